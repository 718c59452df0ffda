"""The GPU kernels are tested on every machine: on a CUDA GPU where torch sees one, and
elsewhere on the CPU under Triton's interpreter, which this file turns on for the test process.

TRITON_INTERPRET must be set before triton decorates lutcli's kernels (it chooses compiled or
interpreted then, once per process); this file is imported while tests are collected, before any
test runs. A machine with a GPU keeps the compiled kernels and tests the real GPU.
"""

from __future__ import annotations

import os

import pytest
import torch

from lutcli.kernels import cuda

if not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"


@pytest.fixture
def gpu_device() -> torch.device:
    """Where the Triton kernels run here: the GPU, or the CPU under Triton's interpreter."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert cuda.runs_on(device), (
        "the Triton kernels cannot run: is triton (lutcli[test]) installed?"
    )
    return device
