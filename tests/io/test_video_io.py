"""Clips in and out through FFmpeg's libraries: frames, timing, tags, rotation, bit depth and
the other streams kept; RGB converted with the clip's own matrix and range."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from skimage import data

import lutcli.io.video
from clip_support import (
    RATE,
    decoded,
    mean_levels,
    packets,
    pan,
    pan_then_cut,
    stream_info,
    write_clip,
)
from lutcli.errors import ImageReadError
from lutcli.io.video import Frame, probe, read_frames, transcode


def untouched(source: Path, destination: Path, seen: list[Frame] | None = None) -> list[str]:
    """``source`` re-encoded into ``destination`` with every frame as it was decoded."""

    def grade(frame: Frame) -> np.ndarray:
        if seen is not None:
            seen.append(frame)
        return frame.pixels

    with open(destination, "wb") as handle:
        return transcode(source, handle, destination.suffix, grade)


def test_a_re_encoded_clip_keeps_its_frames_timing_tags_and_audio_bytes(tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan_then_cut())
    seen: list[Frame] = []
    notes = untouched(source, tmp_path / "out.mp4", seen)
    before, after = stream_info(source), stream_info(tmp_path / "out.mp4")
    assert notes == []
    assert after == before  # codec, pixel format, BT.709 tags, 50 frames at 25/s, audio
    assert after["frames"] == 50 and after["streams"] == ["audio", "video"]
    assert [frame.seconds for frame in seen] == pytest.approx([i / RATE for i in range(50)])
    assert packets(tmp_path / "out.mp4", "audio") == packets(source, "audio")
    # The codec's error only (ffmpeg -c:v libx264 -crf 18, which skips the round trip
    # through RGB: 1.06 levels).
    assert mean_levels(decoded(source), decoded(tmp_path / "out.mp4")) < 1.5


@pytest.mark.parametrize("full_range", [False, True], ids=["limited range", "full range"])
def test_frames_are_read_with_the_clips_matrix_and_range(tmp_path, full_range):
    # Saturated colours: read with another matrix (BT.601) or range, they would be off by
    # several levels.
    frames = pan(data.astronaut(), 10)
    source = write_clip(tmp_path / "in.mkv", frames, "ffv1", "yuv444p", full_range=full_range)
    read = decoded(source)
    assert mean_levels(frames, read) < 1.0
    untouched(source, tmp_path / "out.mkv")
    assert stream_info(tmp_path / "out.mkv")["color_range"] == (2 if full_range else 1)
    assert mean_levels(read, decoded(tmp_path / "out.mkv")) < 0.5  # lossless codec: rounding


def test_a_10_bit_clip_is_graded_at_16_bits_and_stays_10_bit(tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan(data.coffee(), 12), pixel_format="yuv420p10le")
    seen: list[Frame] = []
    untouched(source, tmp_path / "out.mp4", seen)
    assert {frame.pixels.dtype for frame in seen} == {np.dtype(np.uint16)}
    # 10-bit values, not 8-bit ones scaled up: the low bits vary.
    assert len(np.unique(seen[0].pixels % 257)) > 10
    assert stream_info(tmp_path / "out.mp4")["pixel_format"] == "yuv420p10le"
    assert probe(tmp_path / "out.mp4").bit_depth == 10
    assert (
        mean_levels(decoded(source), decoded(tmp_path / "out.mp4")) < 1.8
    )  # ffmpeg's, without RGB: 1.14


def test_prores_keeps_its_profile_and_its_pcm_audio(tmp_path):
    frames = pan(data.chelsea(), 8)
    source = write_clip(
        tmp_path / "in.mov", frames, "prores_ks", "yuv422p10le", options={"profile": "3"}
    )
    untouched(source, tmp_path / "out.mov")
    before, after = stream_info(source), stream_info(tmp_path / "out.mov")
    assert after["codec"] == "prores" and after["profile"] == before["profile"] == "HQ"
    assert after["pixel_format"] == "yuv422p10le"
    assert packets(tmp_path / "out.mov", "audio") == packets(source, "audio")
    assert (
        mean_levels(decoded(source), decoded(tmp_path / "out.mov")) < 0.8
    )  # ffmpeg's, without RGB: 0.63


def test_rotation_is_kept(tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 5), rotation=90)
    assert stream_info(source)["rotation"] == 90
    untouched(source, tmp_path / "out.mp4")
    assert stream_info(tmp_path / "out.mp4")["rotation"] == 90


def test_a_container_that_cannot_hold_the_codec_or_a_stream_says_so(tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 5))
    notes = untouched(source, tmp_path / "out.webm")
    assert notes == [
        "h264 video cannot be written to this container here: encoded as vp9",
        "left out audio stream 1: 'webm' format does not support 'aac' codec",
    ]
    assert stream_info(tmp_path / "out.webm")["codec"] == "vp9"


def inverted(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [255 - frame for frame in frames]


@pytest.mark.parametrize("width", [128, 250], ids=["packed rows", "padded rows"])
def test_grading_in_place_or_into_new_pixels_gives_the_same_clip(tmp_path, width):
    # 250 pixels of RGB are 750 bytes, which FFmpeg pads to 768 a row: graded from a copy.
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 10, 96, width), audio=False)

    def in_place(frame: Frame) -> np.ndarray:
        np.subtract(255, frame.pixels, out=frame.pixels)
        return frame.pixels

    outputs = []
    for name, grade in {"in place": in_place, "new": lambda frame: 255 - frame.pixels}.items():
        with open(tmp_path / f"{name}.mp4", "wb") as handle:
            transcode(source, handle, ".mp4", grade)
        outputs.append(decoded(tmp_path / f"{name}.mp4"))
    assert all(np.array_equal(a, b) for a, b in zip(*outputs, strict=True))
    assert mean_levels(outputs[0], inverted(decoded(source))) < 1.5  # the codec's error


def test_a_failure_while_grading_ends_the_clip_and_its_encoding_thread(tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 25))

    def grade(frame: Frame) -> np.ndarray:
        if frame.seconds > 0.5:
            raise ValueError("the look failed")
        return frame.pixels

    with open(tmp_path / "out.mp4", "wb") as handle, pytest.raises(ValueError, match="failed"):
        transcode(source, handle, ".mp4", grade)
    assert "lutcli-encoding" not in [thread.name for thread in threading.enumerate()]


def test_a_failure_while_encoding_is_raised_where_the_clip_is_graded(tmp_path, monkeypatch):
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 25))
    graded = 0

    def grade(frame: Frame) -> np.ndarray:
        nonlocal graded
        graded += 1
        return frame.pixels

    def failing(rgb, decoded, encoder):
        raise MemoryError("no memory for the frame")

    monkeypatch.setattr(lutcli.io.video, "_from_rgb", failing)
    with open(tmp_path / "out.mp4", "wb") as handle, pytest.raises(MemoryError):
        transcode(source, handle, ".mp4", grade)
    assert graded < 25  # grading stopped soon after the failure, not at the clip's end
    assert "lutcli-encoding" not in [thread.name for thread in threading.enumerate()]


def test_frames_are_spread_evenly_over_the_clip(tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 50), audio=False)
    times = [frame.seconds for frame in read_frames(source, 5)]
    assert times == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6])
    assert len(list(read_frames(source, 80))) == 50  # all of them, once


def test_a_file_that_is_not_a_clip_is_one_clear_error(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a clip\n")
    with pytest.raises(ImageReadError, match=r"^cannot read the clip '.*notes\.mp4': "):
        probe(fake)
    with open(tmp_path / "out.mp4", "wb") as handle, pytest.raises(ImageReadError):
        transcode(fake, handle, ".mp4", lambda frame: frame.pixels)


def test_subtitles_are_copied_as_they_are(tmp_path):
    clip = write_clip(tmp_path / "clip.mkv", pan(data.astronaut(), 25), "ffv1", "yuv444p")
    (tmp_path / "lines.srt").write_text("1\n00:00:00,100 --> 00:00:00,900\nHello, world\n")
    source = tmp_path / "subtitled.mkv"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", clip, "-i", tmp_path / "lines.srt", "-map", "0",
         "-map", "1", "-c", "copy", "-c:s", "srt", source],
        check=True,
    )  # fmt: skip
    untouched(source, tmp_path / "out.mkv")
    assert stream_info(tmp_path / "out.mkv")["streams"] == ["audio", "subtitle", "video"]
    assert packets(tmp_path / "out.mkv", "subtitle") == packets(source, "subtitle")
    assert b"Hello, world" in packets(source, "subtitle")[0]
