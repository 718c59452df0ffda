"""Grading clips: a fixed LUT as ffmpeg's lut3d applies it, an adaptive look steady within a
shot and starting afresh at a cut, outputs whole or not at all."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from clip_support import decoded, mean_levels, pan, pan_then_cut, stream_info, write_clip
from lutcli.clip_settings import ClipSettings
from lutcli.fileutil import DestinationExistsError
from lutcli.looks import ModelLook, open_look
from lutcli.lut.formats import write_lut
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D
from lutcli.presets import find_preset
from lutcli.video import TemporalSmoothing, process_clip, steady_flicker

CUT_FRAME = 25  # pan_then_cut's second shot starts here


def warm_cube(path: Path) -> Path:
    """A .cube of 33³ that lifts red and lowers blue (a warm look)."""
    red, green, blue = identity_lut(33)
    table = np.stack([red**0.8, green, blue**1.25]).astype(np.float32)
    write_lut(Lut3D(table), path)
    return path


@pytest.fixture(scope="module")
def auto_look() -> ModelLook:
    """The shipped image-adaptive preset: a different LUT for every picture."""
    look = open_look("model", find_preset("auto").path)
    assert look.adaptive
    return look


def test_a_fixed_lut_grades_a_clip_as_ffmpegs_lut3d_does(tmp_path):
    assert shutil.which("ffmpeg"), "the tests need ffmpeg"
    source = write_clip(tmp_path / "in.mp4", pan_then_cut())
    cube = warm_cube(tmp_path / "warm.cube")
    look = open_look("lut", cube)
    process_clip(look, source, tmp_path / "ours.mp4")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", source, "-vf", f"lut3d={cube},format=yuv420p",
         "-c:v", "libx264", "-crf", "18", "-c:a", "copy", tmp_path / "ffmpeg.mp4"],
        check=True,
    )  # fmt: skip
    # (Without format=yuv420p, ffmpeg would encode lut3d's RGB as 4:4:4, not as the source is.)
    # What both should give: the LUT on every decoded frame, as on photos.
    ideal = [look.apply(frame) for frame in decoded(source)]
    ours, theirs = decoded(tmp_path / "ours.mp4"), decoded(tmp_path / "ffmpeg.mp4")
    assert len(ours) == len(theirs) == 50
    ours_error, ffmpeg_error = mean_levels(ours, ideal), mean_levels(theirs, ideal)
    print(f"from the LUT on decoded frames: lutcli {ours_error:.2f}, ffmpeg {ffmpeg_error:.2f}")
    # Measured 1.38 and 1.86 levels: both re-encode at CRF 18, and lutcli converts to RGB and
    # back with exact rounding and full-resolution chroma where ffmpeg's default path does not,
    # and back from the RGB frame FFmpeg made, which keeps the source's chroma siting (from a
    # new frame, as before, 1.60).
    assert ours_error < 1.5
    assert ours_error < ffmpeg_error
    assert stream_info(tmp_path / "ours.mp4")["streams"] == ["audio", "video"]


def test_a_look_that_is_not_adaptive_gives_every_frame_its_lut(tmp_path):
    look = open_look("lut", warm_cube(tmp_path / "warm.cube"))
    smoothing = TemporalSmoothing(look)
    frames = pan_then_cut()
    assert all(smoothing.lut_for(f, i / 25) is look.lut for i, f in enumerate(frames))
    assert smoothing.cuts == []  # nothing to follow


def test_without_smoothing_every_frame_gets_its_own_choice(auto_look):
    smoothing = TemporalSmoothing(auto_look, time_constant=0)
    for index, frame in enumerate(pan(data.astronaut(), 4)):
        own = auto_look.lut_for(auto_look.picture_context(frame))
        np.testing.assert_array_equal(smoothing.lut_for(frame, index / 25).table, own.table)


def test_smoothing_steadies_a_pan_and_restarts_at_the_cut(auto_look):
    frames = pan_then_cut()
    seconds = [index / 25 for index in range(len(frames))]

    def graded(time_constant: float) -> tuple[list[np.ndarray], TemporalSmoothing]:
        smoothing = TemporalSmoothing(auto_look, time_constant)
        luts = [smoothing.lut_for(f, t) for f, t in zip(frames, seconds, strict=True)]
        return [lut.apply(f) for lut, f in zip(luts, frames, strict=True)], smoothing

    each, _ = graded(0)
    steady, smoothing = graded(0.3)
    assert smoothing.cuts == pytest.approx([CUT_FRAME / 25])  # the cut, and only it
    # Where the picture barely changes, the output changes less from frame to frame.
    first_shot = slice(0, CUT_FRAME)
    before = steady_flicker(frames[first_shot], each[first_shot])
    after = steady_flicker(frames[first_shot], steady[first_shot])
    assert after < 0.8 * before
    # The new shot's first frame gets its own LUT: no lag past the cut.
    np.testing.assert_array_equal(steady[CUT_FRAME], each[CUT_FRAME])


def test_a_clip_is_written_whole_or_not_at_all(tmp_path, auto_look):
    source = write_clip(tmp_path / "in.mp4", pan(data.coffee(), 10))
    destination = tmp_path / "out" / "graded.mp4"

    def stop_halfway(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        process_clip(auto_look, source, destination, on_frame=stop_halfway)
    assert list(destination.parent.iterdir()) == []
    destination.write_bytes(b"kept")
    with pytest.raises(DestinationExistsError):
        process_clip(auto_look, source, destination, ClipSettings(), replace=False)
    assert destination.read_bytes() == b"kept"


def test_an_interrupted_clip_is_kept_playable_when_asked_and_replaced_when_done(
    tmp_path, auto_look
):
    source = write_clip(tmp_path / "in.mp4", pan(data.coffee(), 20))
    destination = tmp_path / "out" / "graded.mp4"
    keep = ClipSettings(keep_partial=True)

    def stop_after_eight(done: int, total: int) -> None:
        if done == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        process_clip(auto_look, source, destination, keep, on_frame=stop_after_eight)
    partial = tmp_path / "out" / "graded.partial.mp4"
    assert sorted(destination.parent.iterdir()) == [partial]
    shown = stream_info(partial)  # it plays: the eight frames graded, the audio beside them
    assert shown["frames"] == 8 and shown["streams"] == ["audio", "video"]
    process_clip(auto_look, source, destination, keep)
    assert sorted(destination.parent.iterdir()) == [destination]
    assert stream_info(destination)["frames"] == 20
