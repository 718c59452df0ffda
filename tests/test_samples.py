"""The sample jobs: real photos, reframed and mis-colored, corrected by a real tool."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from lutcli.samples import miscolor, reframe, sample_photos, write_adaptive_pairs


def gradient_photo() -> np.ndarray:
    """A 60x80 photo whose every pixel says where it came from (row in red, column in green)."""
    rows, columns = np.mgrid[0:60, 0:80]
    return np.stack([rows * 4, columns * 3, np.full_like(rows, 128)], axis=-1).astype(np.uint8)


def test_ten_distinct_photos_ship_with_the_sample_extras() -> None:
    photos = sample_photos()
    assert len(photos) == 10
    assert all(p.ndim == 3 and p.shape[2] == 3 and p.dtype == np.uint8 for p in photos.values())


def test_a_reframing_is_a_window_of_the_photo_possibly_mirrored() -> None:
    photo = gradient_photo()
    generator = np.random.default_rng(0)
    mirrored = 0
    for _ in range(40):
        window = reframe(photo, generator)
        height, width = window.shape[:2]
        assert 24 <= height <= 60 and 32 <= width <= 80
        flipped = bool(window[0, 0, 1] > window[0, -1, 1])  # columns run backwards
        upright = window[:, ::-1] if flipped else window
        top, left = upright[0, 0, 0] // 4, upright[0, 0, 1] // 3
        assert np.array_equal(upright, photo[top : top + height, left : left + width])
        mirrored += flipped
    assert 5 < mirrored < 35


def test_reframings_repeat_with_the_seed() -> None:
    photo = gradient_photo()
    first = reframe(photo, np.random.default_rng(3))
    assert np.array_equal(first, reframe(photo, np.random.default_rng(3)))


def test_a_miscolored_copy_has_lifted_blacks_and_dimmed_whites() -> None:
    photo = np.concatenate([np.zeros((4, 4, 3)), np.full((4, 4, 3), 255)]).astype(np.uint8)
    copy = miscolor(photo, np.random.default_rng(0))
    assert copy.dtype == np.uint8 and copy.shape == photo.shape
    assert np.all(copy[:4] <= 0.2 * 255 + 1) and np.all(copy[4:] >= 0.55 * 255 - 1)


def test_adaptive_pairs_are_corrected_per_photo_by_ffmpeg(tmp_path: Path) -> None:
    photo = sample_photos()["coffee"]
    write_adaptive_pairs(tmp_path, {"coffee": photo}, variants=2, seed=0, max_side=64)
    inputs = sorted((tmp_path / "input").iterdir())
    assert [p.name for p in inputs] == ["coffee-0.png", "coffee-1.png"]
    for source in inputs:
        shifted = cv2.imread(str(source))
        corrected = cv2.imread(str(tmp_path / "target" / source.name))
        assert shifted.shape == corrected.shape and max(shifted.shape[:2]) == 64
        # Gray world: the correction makes the channel means closer to each other.
        assert np.ptp(corrected.mean(axis=(0, 1))) < np.ptp(shifted.mean(axis=(0, 1)))


def pairs_of(tmp_path: Path, correction: str, variants: int = 2) -> list[tuple[np.ndarray, ...]]:
    """(input, target) pixels (BGR) of a small adaptive folder of coffee for ``correction``."""
    photo = sample_photos()["coffee"]
    write_adaptive_pairs(tmp_path, {"coffee": photo}, variants, 0, 96, correction=correction)
    return [
        (cv2.imread(str(source)), cv2.imread(str(tmp_path / "target" / source.name)))
        for source in sorted((tmp_path / "input").iterdir())
    ]


def test_auto_levels_stretch_every_channel_to_the_full_range(tmp_path: Path) -> None:
    for shifted, corrected in pairs_of(tmp_path, "normalize"):
        assert shifted.max(axis=(0, 1)).min() < 250  # the copy's whites were dimmed
        assert np.all(corrected.min(axis=(0, 1)) <= 2) and np.all(corrected.max(axis=(0, 1)) >= 253)


def test_grey_edge_makes_the_edges_gray(tmp_path: Path) -> None:
    def edge_colors(pixels: np.ndarray) -> np.ndarray:  # each channel's Minkowski-5 edge norm
        blurred = cv2.GaussianBlur(pixels.astype(np.float64), (0, 0), 2)
        gradient = np.hypot(cv2.Sobel(blurred, -1, 1, 0), cv2.Sobel(blurred, -1, 0, 1))
        norms = (gradient**5).mean(axis=(0, 1)) ** (1 / 5)
        return norms / norms.sum()

    for shifted, corrected in pairs_of(tmp_path, "greyedge"):
        assert np.ptp(edge_colors(corrected)) < 0.5 * np.ptp(edge_colors(shifted))


def test_the_control_look_is_one_lut_for_every_copy(tmp_path: Path) -> None:
    """The "look" job: equal input colors get equal output colors, whatever the photo."""
    seen: dict[tuple[int, ...], np.ndarray] = {}
    disagreements = []
    for shifted, corrected in pairs_of(tmp_path, "look", variants=4):
        for color, result in zip(shifted.reshape(-1, 3), corrected.reshape(-1, 3), strict=True):
            first = seen.setdefault(tuple(color), result)
            disagreements.append(np.abs(first.astype(int) - result).max())
    assert np.max(disagreements) <= 1  # ffmpeg's rounding


def test_an_unknown_correction_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="grayworld"):
        write_adaptive_pairs(tmp_path, {"coffee": gradient_photo()}, 1, correction="autotone")
