"""Decoded pixels in memory: conversion to and from float tensors, resizing, and the strips of
rows that bound the memory of float copies.

Pixels are (H, W, C) numpy arrays of uint8 or uint16 (OpenCV's layout), or float32 in [0, 1];
tensors are (1, 3, H, W) float in [0, 1]. OpenCV is imported here and in the rest of
``lutcli.io`` only; torch only by the conversions to and from tensors, so that applying a LUT
file to pixels never loads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import torch

# The orders of the color channels of decoded pixels: RGB, or OpenCV's own BGR.
CHANNEL_ORDERS = ("RGB", "BGR")
# The largest value of each integer pixel type.
MAX_VALUE = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
# Pixels converted to float at a time where a whole picture need not be (a 4 MB strip).
STRIP_PIXELS = 1 << 18


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 or uint16 -> (1, 3, H, W) float32 in [0, 1] (divided by 255 or 65535)."""
    if pixels.dtype not in MAX_VALUE or pixels.ndim != 3:
        raise ValueError(f"expected (H, W, C) uint8 or uint16, got {pixels.shape} {pixels.dtype}")
    chw = np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32)
    chw /= MAX_VALUE[pixels.dtype]
    import torch

    return torch.from_numpy(chw).unsqueeze(0)


def from_tensor(image: torch.Tensor, dtype: np.dtype | type[np.generic]) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float -> (H, W, 3) of ``dtype`` (uint8 or uint16).

    Values are clamped to [0, 1], scaled to 255 or 65535 and rounded to nearest.
    """
    dtype = np.dtype(dtype)
    if dtype not in MAX_VALUE:
        raise ValueError(f"expected uint8 or uint16, got {dtype}")
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3:
        raise ValueError(f"expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(image.shape)}")
    scaled = image.detach().float().clamp(0, 1).mul(MAX_VALUE[dtype]).round()
    return scaled.permute(1, 2, 0).cpu().numpy().astype(dtype, order="C")


def strips(height: int, width: int) -> Iterator[slice]:
    """Row ranges of about STRIP_PIXELS pixels each that cover a ``height`` x ``width`` picture
    (the last may reach past its end)."""
    rows = max(1, STRIP_PIXELS // max(1, width))
    return (slice(top, top + rows) for top in range(0, height, rows))


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W) or (H, W, C) uint8 or uint16 pixels to ``size`` (height, width), by OpenCV on the
    integers (no float copy): area-averaged when shrinking, bicubic when enlarging (clipped to
    the type's range, since bicubic overshoots at edges). The pixels themselves at their size.
    """
    if pixels.shape[:2] == size:
        return pixels
    shrinking = size[0] <= pixels.shape[0] and size[1] <= pixels.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(pixels, (size[1], size[0]), interpolation=interpolation)
