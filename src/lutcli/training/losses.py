"""Training losses: fidelity (MSE, PSNR) and the LUT regularizers of the learned-LUT literature.

Smoothness (total variation over the lattice) keeps neighbouring lattice cells close, so colors
the training photos never showed are interpolated from their neighbours instead of left at the
identity. Monotonicity keeps each output channel non-decreasing along its own input axis, so a
brighter input never gives a darker output and the look cannot invert tones.
"""

from __future__ import annotations

import math

import torch


def psnr_from_mse(mse: float) -> float:
    """Peak signal-to-noise ratio in dB of pictures in [0, 1] whose mean squared error is
    ``mse``; inf for equal pictures. Callers sum the squared errors their own way (in strips,
    over processes, of rounded pixels) and all score with this one formula."""
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def _lattice_differences(lut: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Forward differences along r, g and b of (..., 3, D, D, D) LUTs ``[c, b, g, r]``."""
    return (
        lut[..., :, :, 1:] - lut[..., :, :, :-1],
        lut[..., :, 1:, :] - lut[..., :, :-1, :],
        lut[..., 1:, :, :] - lut[..., :-1, :, :],
    )


def smoothness(lut: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring lattice values (total variation, L2)."""
    return sum(torch.mean(d**2) for d in _lattice_differences(lut))


def monotonicity(lut: torch.Tensor) -> torch.Tensor:
    """Mean amount by which output channel c decreases along input axis c (r→R, g→G, b→B)."""
    diffs = _lattice_differences(lut)
    return sum(torch.mean(torch.relu(-diffs[c][..., c, :, :, :])) for c in range(3))
