"""Training over several processes: ``torchrun -m lutcli train`` on 2 CPU processes (gloo)
learns what one process learns with the same global batch, and a distributed run resumes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_data import noise, write_rgb

from lutcli.models.files import load_model
from lutcli.training.trainer import load_state, state_path_for

# Every step's 4 crops split 2 and 2 over the processes; one process draws the same 4.
SETTINGS = (
    *("--lut-size", "9", "--crop-size", "16", "--batch-size", "4", "--workers", "0"),
    *("--validation-fraction", "0.25", "--quiet"),
)
# What the 2-process run may differ by from one process. The gradients are the same but for the
# order of float32 additions; Adam divides each by its own running size, which magnifies that
# rounding in the lattice cells only the regularizer moves. Measured: 2.9e-4 at most (a
# different --seed moves the LUT by 2.7e-2); a quarter of an 8-bit level is allowed.
LUT_TOLERANCE = 1e-3
PSNR_TOLERANCE_DB = 0.05  # measured: 0.014 dB at 56 dB


def look(pixels: np.ndarray) -> np.ndarray:
    values = pixels / 255.0
    out = np.stack([values[..., 0] ** 0.8, values[..., 1], 0.9 * values[..., 2] ** 1.2], -1)
    return np.round(out * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight 40x40 pairs made in code, their targets through ``look``."""
    folder = tmp_path_factory.mktemp("pairs")
    for index in range(8):
        pixels = noise(40, 40, seed=index)
        write_rgb(folder / "input" / f"p{index}.png", pixels)
        write_rgb(folder / "target" / f"p{index}.png", look(pixels))
    return folder


def torchrun(*arguments: object, processes: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node=N -m lutcli ...``, as a user types it."""
    command = [
        sys.executable,
        *("-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"),
        *("-m", "lutcli", *map(str, arguments)),
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)


def one_process(*arguments: object) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lutcli", *map(str, arguments)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_two_gloo_processes_learn_what_one_learns_and_resume(pairs, tmp_path):
    alone = one_process("train", pairs, "-o", tmp_path / "alone.pt", "--epochs", "2", *SETTINGS)
    assert alone.returncode == 0, alone.stderr
    # Two processes, stopped after one epoch, then resumed for the second.
    shared = tmp_path / "shared.pt"
    first = torchrun("train", pairs, "-o", shared, "--epochs", "1", *SETTINGS)
    assert first.returncode == 0, first.stderr
    assert load_state(state_path_for(shared))["epoch"] == 1
    resumed = torchrun("train", pairs, "-o", shared, "--epochs", "2", "--resume", *SETTINGS)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "" and "warning" not in resumed.stderr

    one, two = load_state(state_path_for(tmp_path / "alone.pt")), load_state(state_path_for(shared))
    assert two["epoch"] == one["epoch"] == 2
    assert two["step"] == one["step"]  # the same steps, each of the same global batch
    for name, tensor in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][name], tensor, atol=LUT_TOLERANCE, rtol=0)
    for mine, theirs in zip(two["history"], one["history"], strict=True):
        assert mine["validation_psnr"] == pytest.approx(
            theirs["validation_psnr"], abs=PSNR_TOLERANCE_DB
        )
    # Rank 0 wrote the model, with the same held-out pairs as one process holds out.
    assert (
        load_model(shared)[1]["validation_pairs"]
        == load_model(tmp_path / "alone.pt")[1]["validation_pairs"]
    )
    assert (tmp_path / "shared.report.png").is_file()
