"""The GPU kernel: LUT interpolation for (N, 3, P) float32 CUDA tensors, forward and backward.

Written in Triton, which ships with torch's CUDA builds and compiles for the GPU at hand on first
use: nothing to build at install time, and nothing on machines without a GPU (``available()``
is then False and triton is never imported). The kernels are in ``triton_kernels``: one program
handles a block of pixels of one picture; the LUT gradient is summed with atomic adds.
"""

from __future__ import annotations

import functools
import os

import torch

from lutcli.kernels import is_tetrahedral

BLOCK = 256


@functools.cache
def _kernels():
    """The module of Triton kernels, or None where they cannot run (no triton, no GPU).
    TRITON_INTERPRET=1 runs them on the CPU, as the tests of machines without a GPU do."""
    if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
        return None
    try:
        from lutcli.kernels import triton_kernels
    except ImportError:
        return None
    return triton_kernels


def available() -> bool:
    """Whether the GPU kernel can run here."""
    return os.environ.get("LUTCLI_KERNELS", "") != "reference" and _kernels() is not None


class _PlanarInterpolation(torch.autograd.Function):
    """apply_lut on (N, 3, P) float32 GPU tensors, with gradients for the image and the LUTs."""

    @staticmethod
    def forward(ctx, colors, table, tetrahedral):  # type: ignore[override]
        kernels = _kernels()
        colors, table = colors.contiguous(), table.contiguous()
        batch, _, pixels = colors.shape
        size = table.shape[-1]
        lut_stride = 0 if table.shape[0] == 1 else 3 * size**3
        out = torch.empty_like(colors)
        grid = (-(-pixels // BLOCK), batch)
        kernels.forward_kernel[grid](
            colors, table, out, pixels, lut_stride, size, tetrahedral, BLOCK
        )
        ctx.save_for_backward(colors, table)
        ctx.tetrahedral = tetrahedral
        return out

    @staticmethod
    def backward(ctx, grad_output):  # type: ignore[override]
        kernels = _kernels()
        colors, table = ctx.saved_tensors
        grad_output = grad_output.contiguous()
        batch, _, pixels = colors.shape
        size = table.shape[-1]
        lut_stride = 0 if table.shape[0] == 1 else 3 * size**3
        want_image, want_luts = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_colors = torch.empty_like(colors) if want_image else colors.new_empty(1)
        grad_table = torch.zeros_like(table) if want_luts else table.new_empty(1)
        grid = (-(-pixels // BLOCK), batch)
        kernels.backward_kernel[grid](
            colors, table, grad_output, grad_colors, grad_table, pixels, lut_stride,
            size, ctx.tetrahedral, want_image, want_luts, BLOCK,
        )  # fmt: skip
        return (grad_colors if want_image else None), (grad_table if want_luts else None), None


def interpolate_planar(colors: torch.Tensor, table: torch.Tensor, interp: str) -> torch.Tensor:
    """colors (N, 3, P) float32 on a GPU; table (1 or N, 3, D, D, D) float32 on the same GPU
    -> (N, 3, P). Differentiable with respect to both."""
    if not available():
        raise RuntimeError("the GPU kernel is not available; check available() first")
    return _PlanarInterpolation.apply(colors, table, is_tetrahedral(interp))
