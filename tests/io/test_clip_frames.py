"""Clips as pictures: frames spread over a clip, decoded once into the cache."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

import lutcli.io.clip_frames
from clip_support import decoded, pan, write_clip
from lutcli.io.clip_frames import clip_frames
from lutcli.io.images import read_image


def test_frames_are_spread_over_the_clip_and_kept_as_they_were_decoded(tmp_path):
    clip = write_clip(tmp_path / "pan.mp4", pan(data.astronaut(), 40), audio=False)
    frames = clip_frames(clip, 4, tmp_path / "cache")
    assert [seconds for seconds, _ in frames] == pytest.approx([0.0, 0.4, 0.8, 1.2])
    every = decoded(clip)
    for (_, path), index in zip(frames, (0, 10, 20, 30), strict=True):
        np.testing.assert_array_equal(read_image(path).pixels, every[index])


def test_a_second_call_reads_the_cache_and_another_count_decodes_again(tmp_path, monkeypatch):
    clip = write_clip(tmp_path / "pan.mp4", pan(data.coffee(), 12), audio=False)
    first = clip_frames(clip, 3, tmp_path / "cache")

    def no_decoding(*args):
        raise AssertionError("decoded again")

    with monkeypatch.context() as patched:
        patched.setattr(lutcli.io.clip_frames, "read_frames", no_decoding)
        assert clip_frames(clip, 3, tmp_path / "cache") == first
    assert len(clip_frames(clip, 6, tmp_path / "cache")) == 6
    first[1][1].unlink()  # a damaged entry is made again
    assert clip_frames(clip, 3, tmp_path / "cache") == first and first[1][1].is_file()


def test_a_10_bit_clip_gives_16_bit_frames(tmp_path):
    clip = write_clip(tmp_path / "deep.mp4", pan(data.coffee(), 4), pixel_format="yuv420p10le")
    (_, path), *_ = clip_frames(clip, 2, tmp_path / "cache")
    assert read_image(path).pixels.dtype == np.uint16
