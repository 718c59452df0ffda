"""The prepared training cache: pairs decoded once, kept on disk as integers, read a crop at a
time, reused by later runs, refreshed when a photo or a setting changes."""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from test_data import noise, whole, write_rgb

from lutcli.looks import picture_context
from lutcli.models.base import FIXED_SIZE
from lutcli.training.data import Pair
from lutcli.training.prepared import (
    PreparedPair,
    PreparedSamples,
    TrainingCache,
    load_array,
    prepare_pairs,
    training_size,
)


def pair_of(tmp_path: Path, source: np.ndarray, target: np.ndarray, name: str = "a") -> Pair:
    return Pair(
        name,
        write_rgb(tmp_path / f"{name}-in.png", source),
        write_rgb(tmp_path / f"{name}-out.png", target),
    )


def prepared(
    pair: Pair, root: Path, resolution: int | None = 480, warnings: list[str] | None = None
) -> PreparedSamples:
    warn = (warnings if warnings is not None else []).append
    samples, _ = prepare_pairs([pair], TrainingCache(root, resolution), warn=warn)
    assert len(samples) == 1
    return samples


def test_a_pair_reads_back_as_rgb_floats_with_its_size_fixed_context(tmp_path):
    source = noise(20, 30, seed=1)
    source[0, 0] = (255, 0, 0)  # red, which BGR order would turn blue
    target = noise(20, 30, seed=2)
    warnings: list[str] = []
    sample = prepared(pair_of(tmp_path, source, target), tmp_path / "cache", None, warnings)
    sample = whole(sample, 0)
    assert warnings == []
    assert sample.name == "a"
    assert sample.input.shape == sample.target.shape == (3, 20, 30)
    assert sample.input.dtype == sample.target.dtype == torch.float32
    assert sample.input[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    torch.testing.assert_close(sample.input, torch.from_numpy(source).permute(2, 0, 1) / 255)
    torch.testing.assert_close(sample.target, torch.from_numpy(target).permute(2, 0, 1) / 255)
    # The context is what `apply` shows an adaptive look, to 16-bit precision.
    assert sample.context.shape == (3, FIXED_SIZE, FIXED_SIZE)
    torch.testing.assert_close(sample.context, picture_context(source)[0], atol=1e-5, rtol=0)


def test_pairs_are_stored_as_integers_16_bit_when_either_photo_is(tmp_path):
    source = noise(10, 12).astype(np.uint16) * 257
    entries = prepared(pair_of(tmp_path, source, noise(10, 12)), tmp_path / "cache").entries
    stored = np.load(entries[0].pixels_path)
    assert stored.dtype == np.uint16 and stored.shape == (2, 10, 12, 3)
    sample = whole(PreparedSamples(entries), 0)
    torch.testing.assert_close(sample.input, sample.target)
    assert np.load(entries[0].context_path).dtype == np.uint16


def test_a_target_of_another_size_is_resized_to_its_input_with_a_warning(tmp_path):
    # A flat-colored target: resizing keeps its color, so the pair still teaches the same look.
    target = np.full((40, 60, 3), (200, 100, 50), dtype=np.uint8)
    warnings: list[str] = []
    sample = prepared(pair_of(tmp_path, noise(20, 30), target), tmp_path / "c", None, warnings)
    sample = whole(sample, 0)
    assert len(warnings) == 1
    assert "60x40" in warnings[0] and "30x20" in warnings[0]
    assert sample.target.shape == sample.input.shape == (3, 20, 30)
    expected = torch.tensor([200, 100, 50]).view(3, 1, 1).expand(3, 20, 30) / 255
    torch.testing.assert_close(sample.target, expected)


@pytest.mark.parametrize(
    ("size", "resolution", "expected"),
    [
        ((3000, 4500), 480, (480, 720)),
        ((4500, 3000), 480, (720, 480)),
        ((300, 400), 480, (300, 400)),
        ((3000, 4500), None, (3000, 4500)),
    ],
)
def test_the_training_resolution_is_the_short_side(size, resolution, expected):
    assert training_size(*size, resolution) == expected


def test_photos_are_shrunk_to_the_training_resolution_keeping_their_shape(tmp_path):
    pair = pair_of(tmp_path, noise(100, 80), noise(100, 80, seed=3))
    sample = whole(prepared(pair, tmp_path / "cache", resolution=40), 0)
    assert sample.input.shape == sample.target.shape == (3, 50, 40)
    assert sample.context.shape == (3, FIXED_SIZE, FIXED_SIZE)
    assert 0 <= sample.input.min() and sample.input.max() <= 1


def test_the_context_is_the_whole_picture_shrunk(tmp_path):
    # Left half black, right half white: the context shows the same halves.
    source = np.zeros((64, 512, 3), dtype=np.uint8)
    source[:, 256:] = 255
    context = whole(prepared(pair_of(tmp_path, source, source), tmp_path / "c", 16), 0).context
    assert context[:, :, :120].max() < 0.01
    assert context[:, :, 136:].min() > 0.99


def test_a_crop_is_the_window_of_the_whole_pair(tmp_path):
    samples = prepared(pair_of(tmp_path, noise(40, 50), noise(40, 50, 4)), tmp_path / "cache")
    picture, piece = whole(samples, 0), samples.crop(0, 5, 7, 16, 20)
    window = (slice(None), slice(5, 21), slice(7, 27))
    assert torch.equal(piece.input, picture.input[window])
    assert torch.equal(piece.target, picture.target[window])
    assert torch.equal(piece.context, picture.context)


def test_colors_are_the_pixels_at_the_positions_asked_for(tmp_path):
    samples = prepared(pair_of(tmp_path, noise(40, 50), noise(40, 50, 4)), tmp_path / "cache")
    picture = whole(samples, 0)
    positions = np.array([0, 7, 49, 50, 1999, 1234])
    inputs, targets = samples.colors(0, positions)
    at = torch.from_numpy(positions)
    torch.testing.assert_close(inputs, picture.input.reshape(3, -1)[:, at])
    torch.testing.assert_close(targets, picture.target.reshape(3, -1)[:, at])


def test_a_preview_is_the_pair_area_averaged_to_the_side_asked_for(tmp_path):
    source = np.zeros((40, 80, 3), dtype=np.uint8)
    source[:, 40:] = 200  # two halves, which averaging keeps apart
    samples = prepared(pair_of(tmp_path, source, source), tmp_path / "cache")
    preview = samples.preview(0, 20)
    assert preview.input.shape == preview.target.shape == (3, 10, 20)
    assert preview.input[:, :, :10].max() == 0
    torch.testing.assert_close(preview.input[:, :, 10:], torch.full((3, 10, 10), 200 / 255))
    assert torch.equal(preview.context, whole(samples, 0).context)
    assert samples.preview(0, 500).input.shape == (3, 40, 80)  # never enlarged


def test_a_second_run_reuses_the_cache_and_a_changed_photo_or_setting_does_not(tmp_path):
    pairs = [pair_of(tmp_path, noise(16, 16, i), noise(16, 16, i + 9), f"p{i}") for i in range(3)]
    cache = TrainingCache(tmp_path / "cache", 480)
    first, cached = prepare_pairs(pairs, cache, workers=2)
    assert (len(first), cached) == (3, 0)
    again, cached = prepare_pairs(pairs, cache, workers=2)
    assert cached == 3 and again.entries == first.entries
    write_rgb(pairs[1].target_path, noise(16, 16, 99))  # an edited target: prepared afresh
    edited, cached = prepare_pairs(pairs, cache)
    assert cached == 2 and edited.entries[1] != first.entries[1]
    _, cached = prepare_pairs(pairs, TrainingCache(tmp_path / "cache", 8))
    assert cached == 0  # another resolution: other entries


def test_a_known_entry_is_taken_without_reading_the_photos_when_its_files_are_here(tmp_path):
    pairs = [pair_of(tmp_path, noise(16, 16, i), noise(16, 16, i + 9), f"p{i}") for i in range(2)]
    cache = TrainingCache(tmp_path / "cache", 480)
    first, _ = prepare_pairs(pairs, cache)
    known = {entry.name: entry for entry in first.entries}
    for pair in pairs:  # what another process prepared needs no photo here
        pair.input_path.unlink()
    again, cached = prepare_pairs(pairs, cache, known=known)
    assert cached == 2 and again.entries == first.entries
    # Another machine's entry, whose files this one lacks: prepared here (the photos are read).
    elsewhere = TrainingCache(tmp_path / "elsewhere", 480)
    pairs[0] = pair_of(tmp_path, noise(16, 16), noise(16, 16, 9), "p0")
    local, cached = prepare_pairs(
        pairs[:1],
        elsewhere,
        known={
            "p0": PreparedPair("p0", tmp_path / "gone.npy", tmp_path / "gone.context.npy", 16, 16)
        },
    )
    assert cached == 0 and local.entries[0].pixels_path.parent == elsewhere.folder


def test_a_damaged_entry_is_prepared_again(tmp_path):
    pair = pair_of(tmp_path, noise(16, 16), noise(16, 16, 1))
    entry = prepared(pair, tmp_path / "cache").entries[0]
    entry.pixels_path.write_bytes(b"not an array")
    samples, cached = prepare_pairs([pair], TrainingCache(tmp_path / "cache", 480))
    assert cached == 0
    assert whole(samples, 0).input.shape == (3, 16, 16)


def test_a_pair_that_cannot_be_read_is_named_and_left_out(tmp_path):
    good = pair_of(tmp_path, noise(16, 16), noise(16, 16, 1), "good")
    broken = pair_of(tmp_path, noise(16, 16), noise(16, 16, 1), "broken")
    broken.target_path.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    missing = Pair("missing", tmp_path / "gone.png", tmp_path / "gone-too.png")
    warnings: list[str] = []
    samples, _ = prepare_pairs(
        [broken, good, missing], TrainingCache(tmp_path / "c", 480), 2, warnings.append
    )
    assert samples.names == ["good"]
    assert len(warnings) == 2
    assert "'broken'" in warnings[0] and "'missing'" in warnings[1]
    assert all("\n" not in warning for warning in warnings)


class _Cycle:
    """Half of a reference cycle whose finaliser runs Python code when a collection frees it."""

    def __del__(self) -> None:
        sum(range(50))


def test_arrays_open_from_several_threads_while_collections_run_python_code(tmp_path):
    # Without load_array's lock this fails in about one run in one: a collection freeing the
    # cycles below runs __del__ in the middle of one thread's header parse, another thread
    # parses meanwhile, and CPython 3.11 raises SystemError. Whole reads (mmap=False) keep the
    # timing tight enough to show it; mapped reads take the same lock.
    path = tmp_path / "pixels.npy"
    np.save(path, np.zeros((2, 4, 4, 3), np.uint8))
    failures = []

    def open_often() -> None:
        for _ in range(3000):
            first, second = _Cycle(), _Cycle()
            first.other, second.other = second, first
            del first, second
            try:
                load_array(path, mmap=False)
            except SystemError as error:  # the AST builder's shared depth, without the lock
                failures.append(error)
                return

    threshold = gc.get_threshold()
    interval = sys.getswitchinterval()
    gc.set_threshold(5, 1, 1)
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=open_often) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*threshold)
        sys.setswitchinterval(interval)
    assert failures == []
