"""Multi-scale training (SPEC's multi-scale model): any zoo model, trained on a pyramid.

With ``--scales 2,4,8`` the training steps take one scale each, in turn: full size, then each
down-sampling factor, the crops and their ground truth averaged down alike, so the model learns
the same colors at every resolution. Over a cycle of steps this is the loss averaged over the
scales, at the cost of one forward pass a step instead of one per scale. The model keeps the
factors (``LutModel.scales``), which make it choose its LUT at the coarsest scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pyramid_factor(step: int, scales: tuple[int, ...], crop_side: int) -> int:
    """The down-sampling factor of training step ``step`` (counted from 0 over the whole run):
    1 (full size), then each of ``scales`` in turn, skipping those that would leave a crop of
    short side ``crop_side`` without a pixel."""
    usable = [factor for factor in (1, *scales) if crop_side >= factor]
    return usable[step % len(usable)]


def pyramid_level(
    inputs: torch.Tensor, targets: torch.Tensor, step: int, scales: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The (N, 3, H, W) crops ``inputs`` and ``targets`` at step ``step``'s scale of the pyramid
    (``pyramid_factor``), averaged down over blocks alike."""
    factor = pyramid_factor(step, scales, min(inputs.shape[-2:]))
    if factor == 1:
        return inputs, targets
    return F.avg_pool2d(inputs, factor), F.avg_pool2d(targets, factor)
