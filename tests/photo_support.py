"""Photo-like pictures made in code, for tests that need smooth content with fine detail."""

from __future__ import annotations

import cv2
import numpy as np


def smooth_photo(height: int, width: int, dtype=np.uint8) -> np.ndarray:
    """A photo-like picture: smooth colours with fine detail on top (made at a quarter of the
    size and enlarged, which is quicker)."""
    small = smooth_photo_at(max(1, height // 4), max(1, width // 4), dtype)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def smooth_photo_at(height: int, width: int, dtype) -> np.ndarray:
    rows, columns = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [
        0.5 + 0.4 * np.sin(5 * columns + 3 * rows),
        0.3 + 0.6 * rows * columns,
        0.5 + 0.3 * np.cos(4 * rows - 2 * columns) + 0.05 * np.sin(90 * columns),
    ]
    top = np.iinfo(dtype).max
    return np.round(np.stack(channels, axis=-1).clip(0, 1) * top).astype(dtype)
