"""The CPU kernels of ``native.c``: applying a LUT to decoded photos, and training.

The extension is built when lutcli is installed. Where it could not be (no C compiler), or where
LUTCLI_KERNELS asks for other kernels (``reference`` or ``triton``), ``available()`` is False and
callers use ``apply_lut``'s choice; the first fallback for want of a build prints a one-line
notice on stderr.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

from lutcli.kernels import chosen_kernels, is_tetrahedral

try:
    from lutcli.kernels import _native
except ImportError:  # not built: the torch reference path is used instead
    _native = None

# Pixel types of apply_to_pixels and their codes in native.c.
PIXEL_KINDS = {np.dtype(np.uint8): 0, np.dtype(np.uint16): 1, np.dtype(np.float32): 2}

_noticed = False


def available() -> bool:
    """Whether the compiled kernels run here: built, and LUTCLI_KERNELS leaves the choice to
    lutcli ("auto")."""
    return _native is not None and chosen_kernels() == "auto"


def notice_fallback() -> None:
    """Say once per process that the slower torch path runs, when the kernels were not built."""
    global _noticed
    if _native is None and not _noticed:
        _noticed = True
        print(
            "lutcli: the fast CPU kernels are not built (no C compiler at install time); "
            "using the slower torch path",
            file=sys.stderr,
        )


def cpu_count() -> int:
    """Cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _check_lut(lut: torch.Tensor) -> torch.Tensor:
    if lut.dim() != 4 or lut.shape[0] != 3 or len(set(lut.shape[1:])) != 1 or lut.shape[1] < 2:
        raise ValueError(f"lut must be (3, D, D, D) with D >= 2, got {tuple(lut.shape)}")
    return lut.detach().to("cpu", torch.float32).contiguous()


def apply_to_pixels(
    pixels: np.ndarray,
    lut: torch.Tensor,
    interp: str = "trilinear",
    threads: int | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Map (H, W, 3) RGB pixels (uint8, uint16 or float32 in [0, 1]) through ``lut``
    (3, D, D, D), keeping their type; integer results are rounded to nearest and clamped.

    ``threads`` defaults to every core; ``out`` may be ``pixels`` itself (in place).
    """
    if not available():
        raise RuntimeError("the compiled kernels are not available; check available() first")
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype not in PIXEL_KINDS:
        raise ValueError(f"expected (H, W, 3) uint8, uint16 or float32, got {pixels.shape}")
    pixels = np.ascontiguousarray(pixels)
    if out is None:
        out = np.empty_like(pixels)
    elif out.shape != pixels.shape or out.dtype != pixels.dtype or not out.flags.c_contiguous:
        raise ValueError("out must be a C-contiguous array of the pixels' shape and type")
    table = _check_lut(lut)
    _native.apply_packed(
        pixels.ctypes.data,
        out.ctypes.data,
        pixels.shape[0] * pixels.shape[1],
        PIXEL_KINDS[pixels.dtype],
        table.data_ptr(),
        table.shape[-1],
        is_tetrahedral(interp),
        threads or cpu_count(),
    )
    return out


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
