"""The CPU kernels of ``native.c`` on planar float tensors (N, 3, P), with gradients for the
colors and the LUTs: what training and models run on the CPU (``lutcli.lut.interpolate``)."""

from __future__ import annotations

import torch

from lutcli.kernels import is_tetrahedral
from lutcli.kernels.cpu import _native, available


class _PlanarInterpolation(torch.autograd.Function):
    """apply_lut on (N, 3, P) float32 CPU tensors, with gradients for the image and the LUTs."""

    @staticmethod
    def forward(ctx, colors, table, tetrahedral):  # type: ignore[override]
        colors, table = colors.contiguous(), table.contiguous()
        batch, _, pixels = colors.shape
        out = torch.empty_like(colors)
        size = table.shape[-1]
        _native.forward_planar(
            colors.data_ptr(), out.data_ptr(), batch, pixels, table.data_ptr(), table.shape[0],
            size, tetrahedral, torch.get_num_threads(),
        )  # fmt: skip
        ctx.save_for_backward(colors, table)
        ctx.tetrahedral = tetrahedral
        return out

    @staticmethod
    def backward(ctx, grad_output):  # type: ignore[override]
        colors, table = ctx.saved_tensors
        grad_output = grad_output.contiguous()
        batch, _, pixels = colors.shape
        grad_colors = torch.empty_like(colors) if ctx.needs_input_grad[0] else None
        grad_table = torch.zeros_like(table) if ctx.needs_input_grad[1] else None
        _native.backward_planar(
            colors.data_ptr(), grad_output.data_ptr(),
            0 if grad_colors is None else grad_colors.data_ptr(),
            0 if grad_table is None else grad_table.data_ptr(),
            batch, pixels, table.data_ptr(), table.shape[0], table.shape[-1],
            ctx.tetrahedral, torch.get_num_threads(),
        )  # fmt: skip
        return grad_colors, grad_table, None


def interpolate_planar(colors: torch.Tensor, table: torch.Tensor, interp: str) -> torch.Tensor:
    """colors (N, 3, P) float32 on the CPU; table (1 or N, 3, D, D, D) float32 -> (N, 3, P).

    Differentiable with respect to both (the training kernel).
    """
    if not available():
        raise RuntimeError("the compiled kernels are not available; check available() first")
    return _PlanarInterpolation.apply(colors, table, is_tetrahedral(interp))
