"""Pixels in memory: tensor conversion and resizing."""

from __future__ import annotations

import ast
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import lutcli
from lutcli.io.pixels import from_tensor, resize_pixels, strips, to_tensor


def pixels(seed: int = 0, dtype=np.uint8, shape=(6, 8, 3)) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, endpoint=True).astype(dtype)


# Tensors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tensor_round_trip_is_exact_for_every_value(dtype, device):
    values = np.arange(np.iinfo(dtype).max + 1, dtype=np.int64).astype(dtype)
    pixels = np.stack([values, values[::-1], np.roll(values, 7)], axis=-1).reshape(-1, 256, 3)
    tensor = to_tensor(pixels)
    assert tensor.dtype == torch.float32 and tensor.shape == (1, 3, *pixels.shape[:2])
    scaled = pixels.transpose(2, 0, 1)[None] / np.iinfo(dtype).max
    torch.testing.assert_close(tensor, torch.from_numpy(scaled).float(), rtol=0, atol=1e-7)
    result = from_tensor(tensor.to(device), dtype)
    assert result.dtype == dtype and result.flags.c_contiguous
    np.testing.assert_array_equal(result, pixels)
    np.testing.assert_array_equal(from_tensor(tensor[0], dtype), pixels)  # (3, H, W) too


@pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)])
def test_from_tensor_clamps_and_rounds_to_nearest(dtype, top, device):
    levels = torch.tensor([-0.1, 1.2, 10.4 / top, 10.6 / top, 0.0, 1.0], device=device)
    image = levels.view(1, 1, 1, -1).expand(1, 3, 1, -1)
    result = from_tensor(image, dtype)
    np.testing.assert_array_equal(result[0, :, 0], [0, top, 10, 11, 0, top])
    assert result.shape == (1, 6, 3)


# Resizing (apply --scale) -----------------------------------------------------------------------


def test_resize_shrinks_by_averaging_the_integer_pixels():
    noisy = pixels(0, np.uint8, (64, 64, 3))
    small = resize_pixels(noisy, (8, 8))
    assert small.shape == (8, 8, 3) and small.dtype == np.uint8
    # Every output pixel averages its block: the noise is smoothed away instead of sampled.
    blocks = noisy.reshape(8, 8, 8, 8, 3).mean(axis=(1, 3))
    assert np.abs(small - blocks).max() <= 0.5 + 1e-9
    assert small.std() < 12 < noisy.std()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_resize_enlarges_bicubic_within_the_range_of_the_type(dtype):
    top = np.iinfo(dtype).max
    edge = np.zeros((6, 7, 3), dtype)
    edge[:, 3:] = top  # a hard edge: bicubic overshoots beside it
    large = resize_pixels(edge, (15, 20))
    assert large.shape == (15, 20, 3) and large.dtype == dtype
    assert large.min() == 0 and large.max() == top  # clipped, not wrapped around
    cubic = cv2.resize(edge.astype(np.float32), (20, 15), interpolation=cv2.INTER_CUBIC)
    assert np.abs(large - cubic.clip(0, top)).max() <= 0.5 + 1e-3


def test_resize_to_the_same_size_gives_the_pixels_themselves():
    picture = pixels(2, np.uint16, (5, 9, 3))
    assert resize_pixels(picture, (5, 9)) is picture


def test_resize_takes_an_alpha_channel_alone():
    alpha = pixels(3, np.uint8, (12, 16, 1))[..., 0]
    assert resize_pixels(alpha, (6, 8)).shape == (6, 8)


def test_strips_cover_every_row_once_within_the_strip_size(monkeypatch):
    monkeypatch.setattr("lutcli.io.pixels.STRIP_PIXELS", 7 * 60)
    rows = [list(range(41))[part] for part in strips(41, 60)]
    assert [len(r) for r in rows] == [7] * 5 + [6]
    assert sum(rows, []) == list(range(41))


def test_opencv_is_imported_in_lutcli_io_only():
    """One place knows OpenCV's channel order, flags and sizes given as (width, height)."""
    package = Path(lutcli.__file__).parent
    importers = []
    for source in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] == "cv2" for name in names):
                importers.append(source.relative_to(package).as_posix())
    assert importers and all(name.startswith("io/") for name in importers), importers
