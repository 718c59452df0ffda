"""The GPU kernels: LUT interpolation for (N, 3, P) float32 tensors, forward and backward.

Written in Triton, which ships with torch's CUDA builds and compiles for the GPU at hand on first
use: nothing to build at install time, and nothing on machines without a GPU (triton is then not
even imported). The kernels are in ``triton_kernels``: one program handles a block of pixels of
one picture; the LUT gradient is summed with atomic adds.

With TRITON_INTERPRET=1, Triton's interpreter runs the same kernels on CPU tensors (slowly):
how the tests check them, and (LUTCLI_KERNELS=triton) the whole GPU code path, without a GPU.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading

import torch

from lutcli.errors import LutcliError
from lutcli.kernels import is_tetrahedral

BLOCK = 256

# Triton's interpreter is not thread-safe, and ``lutcli apply`` runs photos on threads: under
# it, one launch at a time. Compiled launches on a GPU need no lock.
_interpreter_lock = threading.Lock()


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when a GPU is present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise LutcliError("--device cuda was asked for, but no CUDA GPU is available")
    return torch.device(name)


@functools.cache
def _kernels():
    """The module of Triton kernels, or None where triton is missing or nothing could run
    them (no GPU, and TRITON_INTERPRET unset or 0: triton is then not imported)."""
    interpreter = os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")
    if not torch.cuda.is_available() and not interpreter:
        return None
    try:
        from lutcli.kernels import triton_kernels
    except ImportError:
        return None
    return triton_kernels


def runs_on(device: torch.device | str) -> bool:
    """Whether the Triton kernels can run on tensors of ``device``: CUDA tensors where triton
    is installed, CPU tensors only under Triton's interpreter."""
    kernels = _kernels()
    device = torch.device(device)
    if kernels is None:
        return False
    return device.type == "cuda" or (device.type == "cpu" and kernels.INTERPRETED)


def _launching():
    """The context of a kernel launch: serialized under the interpreter."""
    return _interpreter_lock if _kernels().INTERPRETED else contextlib.nullcontext()


class _PlanarInterpolation(torch.autograd.Function):
    """apply_lut on (N, 3, P) float32 tensors, with gradients for the image and the LUTs."""

    @staticmethod
    def forward(ctx, colors, table, tetrahedral):  # type: ignore[override]
        kernels = _kernels()
        colors, table = colors.contiguous(), table.contiguous()
        batch, _, pixels = colors.shape
        size = table.shape[-1]
        lut_stride = 0 if table.shape[0] == 1 else 3 * size**3
        out = torch.empty_like(colors)
        grid = (-(-pixels // BLOCK), batch)
        with _launching():
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
        with _launching():
            kernels.backward_kernel[grid](
                colors, table, grad_output, grad_colors, grad_table, pixels, lut_stride,
                size, ctx.tetrahedral, want_image, want_luts, BLOCK,
            )  # fmt: skip
        return (grad_colors if want_image else None), (grad_table if want_luts else None), None


def interpolate_planar(colors: torch.Tensor, table: torch.Tensor, interp: str) -> torch.Tensor:
    """colors (N, 3, P) float32 on a GPU (or the CPU under the interpreter); table (1 or N, 3,
    D, D, D) float32 on the same device -> (N, 3, P). Differentiable with respect to both."""
    if not runs_on(colors.device):
        raise RuntimeError(f"the Triton kernels cannot run on {colors.device}; see runs_on()")
    return _PlanarInterpolation.apply(colors, table, is_tetrahedral(interp))
