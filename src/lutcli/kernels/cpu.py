"""The CPU kernels of ``native.c``: loading them, and applying a LUT to decoded photos. numpy
is all this needs: applying a LUT file never imports torch (``lutcli.kernels.cpu_planar`` has the
kernels on tensors, for training and for models).

The extension is built when lutcli is installed. Where it could not be (no C compiler), or where
LUTCLI_KERNELS asks for other kernels (``reference`` or ``triton``), ``available()`` is False and
callers use ``apply_lut``'s choice; the first fallback for want of a build prints a one-line
notice on stderr.
"""

from __future__ import annotations

import os
import sys

import numpy as np

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


def _check_lut(lut) -> np.ndarray:
    """The table (3, D, D, D) as contiguous float32 (copied only where it is not)."""
    table = np.ascontiguousarray(lut, dtype=np.float32)
    shape = table.shape
    if table.ndim != 4 or shape[0] != 3 or len(set(shape[1:])) != 1 or shape[1] < 2:
        raise ValueError(f"lut must be (3, D, D, D) with D >= 2, got {shape}")
    return table


def apply_to_pixels(
    pixels: np.ndarray,
    lut: np.ndarray,
    interp: str = "trilinear",
    threads: int | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Map (H, W, 3) RGB pixels (uint8, uint16 or float32 in [0, 1]) through ``lut``
    (3, D, D, D) float (an array, or anything numpy reads as one), keeping their type; integer
    results are rounded to nearest and clamped.

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
        table.ctypes.data,
        table.shape[-1],
        is_tetrahedral(interp),
        threads or cpu_count(),
    )
    return out


def simd_levels() -> list[str]:
    """The SIMD levels of the compiled kernels that this CPU runs, best first ("x86-64-v4":
    AVX-512, "x86-64-v3": AVX2 and FMA, "portable"); the best runs unless ``use_simd`` chose
    another. Empty where the kernels are not built."""
    return list(_native.simd_levels()) if _native is not None else []


def simd_level() -> str | None:
    """The SIMD level the compiled kernels run at; None where they are not built."""
    return _native.simd_level() if _native is not None else None


def use_simd(level: str) -> str:
    """Run the compiled kernels at ``level``, one of ``simd_levels()``; returns the level that
    ran before, so that a caller can put it back."""
    if _native is None:
        raise RuntimeError("the compiled kernels are not built")
    return _native.use_simd(level)
