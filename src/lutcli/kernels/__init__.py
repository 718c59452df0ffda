"""Fast kernels behind ``lutcli.lut.interpolate.apply_lut`` and ``lutcli apply``.

``cpu`` wraps the C extension built at install time (``native.c``) for decoded pixels, with
numpy alone; ``cpu_planar`` runs it on tensors, with gradients; ``cuda`` holds the GPU kernels
(Triton). Each says whether it can run, and ``apply_lut`` falls back to its torch
reference where neither can.

The environment variable LUTCLI_KERNELS chooses (``chosen_kernels``):

- ``auto`` (or unset): the C kernels for CPU tensors, the Triton kernels for CUDA tensors.
- ``reference``: the torch reference everywhere.
- ``triton``: the Triton kernels for float32 tensors on any device. CPU tensors need Triton's
  interpreter (TRITON_INTERPRET=1 when they are first used; slow): how the GPU code path is
  tested on machines without a GPU. Where the kernels cannot run, it is an error.
"""

from __future__ import annotations

import os

from lutcli.errors import LutcliError

INTERPOLATIONS = ("trilinear", "tetrahedral")
KERNEL_CHOICES = ("auto", "reference", "triton")


def is_tetrahedral(interp: str) -> bool:
    """The kernels' flag for ``interp``; ValueError for a name not in INTERPOLATIONS."""
    if interp not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interp!r}; choose one of {INTERPOLATIONS}")
    return interp == "tetrahedral"


def chosen_kernels() -> str:
    """The kernels LUTCLI_KERNELS asks for, one of KERNEL_CHOICES ("auto" when unset)."""
    choice = os.environ.get("LUTCLI_KERNELS", "") or "auto"
    if choice not in KERNEL_CHOICES:
        raise LutcliError(f"LUTCLI_KERNELS={choice!r} is not one of {', '.join(KERNEL_CHOICES)}")
    return choice
