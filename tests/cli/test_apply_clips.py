"""``lutcli apply`` on clips: folders that mix photos and clips, encoding options, progress in
frames, clear errors, reruns that skip finished clips, Ctrl-C that leaves nothing half-written."""

from __future__ import annotations

import signal
import time

import pytest
from cli_support import assert_one_error_line, finish, start_lutcli, temp_files, write_picture
from skimage import data

from clip_support import decoded, mean_levels, packets, pan, pan_then_cut, stream_info, write_clip
from lutcli.cli.apply import parse_bitrate
from lutcli.io.images import read_image
from lutcli.looks import open_look
from lutcli.presets import find_preset


@pytest.fixture
def mixed_folder(tmp_path):
    """Two photos and two clips (H.264 with AAC, ProRes with PCM), and a text file."""
    folder = tmp_path / "shoot"
    write_picture(folder / "still.png", data.astronaut()[:96, :128])
    write_picture(folder / "sub" / "cat.png", data.chelsea()[:96, :128])
    write_clip(folder / "pan.mp4", pan_then_cut(10))
    write_clip(folder / "sub" / "log.mov", pan(data.coffee(), 6), "prores_ks", "yuv422p10le")
    (folder / "notes.txt").write_text("call the client\n")
    return folder


def test_a_folder_of_photos_and_clips_is_graded_and_a_rerun_skips_it(
    invoke, tmp_path, mixed_folder
):
    output = tmp_path / "graded"
    result = invoke("apply", mixed_folder, output, "--requirement", "warm", "-r")
    assert result.exit_code == 0, result.output
    assert "4 written" in result.stdout
    assert "left out 1 file lutcli does not read: notes.txt" in result.stderr
    look = open_look("lut", find_preset("warm").path)
    for clip in ("pan.mp4", "sub/log.mov"):
        before, after = stream_info(mixed_folder / clip), stream_info(output / clip)
        assert after["frames"] == before["frames"] and after["times"] == before["times"]
        assert after["codec"] == before["codec"] and after["streams"] == before["streams"]
        assert packets(output / clip, "audio") == packets(mixed_folder / clip, "audio")
        ideal = [look.apply(frame) for frame in decoded(mixed_folder / clip)]
        assert mean_levels(decoded(output / clip), ideal) < 2.0  # the codec's error
    assert read_image(output / "still.png").pixels.shape == (96, 128, 3)
    again = invoke("apply", mixed_folder, output, "--requirement", "warm", "-r")
    assert again.exit_code == 0
    assert "0 written" in again.stdout and "4 already there" in again.stdout


def test_crf_and_bitrate_set_how_a_clip_is_encoded(invoke, tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 25, 192, 256), audio=False)
    sizes = {}
    for name, options in {
        "crf12": ["--crf", "12"],
        "crf30": ["--crf", "30"],
        "200k": ["--video-bitrate", "200k"],
        "50k": ["--video-bitrate", "50k"],
    }.items():
        out = tmp_path / f"{name}.mp4"
        result = invoke("apply", source, out, "--requirement", "warm", *options)
        assert result.exit_code == 0, result.output
        sizes[name] = out.stat().st_size
    assert sizes["crf12"] > 2 * sizes["crf30"]
    # One second at 50 kbit/s is about 6 kB, well under what CRF 12 spends; at 200 kbit/s
    # (25 kB at most) the encoder spends more, as far as this simple clip needs it.
    assert sizes["50k"] < 9_000 < sizes["crf12"], sizes
    assert 1.5 * sizes["50k"] < sizes["200k"] < 40_000, sizes


@pytest.mark.parametrize(
    ("text", "bits"), [("20M", 20_000_000), ("8000k", 8_000_000), ("5e6", 5_000_000)]
)
def test_bitrates_are_read_with_their_units(text, bits):
    assert parse_bitrate(text) == bits


def test_clips_cannot_be_scaled_or_written_as_photos(invoke, tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 3), audio=False)
    result = invoke("apply", source, tmp_path / "out.png", "--requirement", "warm")
    assert_one_error_line(result, "cannot write the clip", "not a clip container")
    result = invoke(
        "apply", source, tmp_path / "out.mp4", "--requirement", "warm", "--scale", "0.5"
    )
    assert result.exit_code == 1
    assert "--scale resizes photos only" in result.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_a_broken_clip_is_named_and_the_rest_are_graded(invoke, tmp_path):
    folder = tmp_path / "clips"
    write_clip(folder / "good.mp4", pan(data.astronaut(), 3), audio=False)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    result = invoke("apply", folder, tmp_path / "out", "--requirement", "warm")
    assert result.exit_code == 1
    assert "cannot read the clip" in result.stderr and "broken.mp4" in result.stderr
    assert "Traceback" not in result.output
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.mp4"]


def test_progress_counts_frames_and_quiet_silences_it(invoke, tmp_path):
    source = write_clip(tmp_path / "in.mp4", pan(data.astronaut(), 20), audio=False)
    shown = invoke("apply", source, tmp_path / "a.mp4", "--requirement", "auto")
    assert shown.exit_code == 0
    assert "applying" in shown.stderr
    quiet = invoke("apply", source, tmp_path / "b.mp4", "--requirement", "auto", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""


def interrupt_while_writing(process, output, clips: int) -> str:
    """Ctrl-C to ``process`` once ``clips`` clips are being written into ``output`` (each
    temporary file grown past its header: frames are in it); its stderr once it has ended."""
    deadline = time.monotonic() + 90
    while len([p for p in temp_files(output) if p.stat().st_size >= 100_000]) < clips:
        if process.poll() is not None or time.monotonic() > deadline:
            finish(process)
            pytest.fail(f"{clips} clip(s) were never being written at once")
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    return finish(process)[1]


@pytest.mark.parametrize("keep_partial", [False, True], ids=["by default", "--keep-partial"])
def test_ctrl_c_while_a_clip_is_graded_leaves_no_file_or_a_playable_partial_one(
    tmp_path, keep_partial
):
    frames = pan(data.astronaut(), 300, 288, 384)
    source = write_clip(tmp_path / "long.mp4", frames, audio=False)
    output = tmp_path / "out"
    options = ["--keep-partial"] if keep_partial else []
    process = start_lutcli("apply", source, output / "long.mp4", "--requirement", "auto", *options)
    stderr = interrupt_while_writing(process, output, clips=1)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    if not keep_partial:
        assert list(output.iterdir()) == []
        return
    assert list(output.iterdir()) == [output / "long.partial.mp4"]
    assert 0 < stream_info(output / "long.partial.mp4")["frames"] < 300


def test_ctrl_c_stops_every_clip_being_graded_at_its_next_frame(tmp_path):
    folder = tmp_path / "clips"
    for name, photo in (("a", data.astronaut()), ("b", data.coffee())):
        write_clip(folder / f"{name}.mp4", pan(photo, 300, 288, 384), audio=False)
    output = tmp_path / "out"
    process = start_lutcli(
        "apply", folder, output, "--requirement", "auto", "--jobs", "2", "--keep-partial"
    )
    stderr = interrupt_while_writing(process, output, clips=2)
    assert process.returncode == 130, stderr
    assert sorted(p.name for p in output.iterdir()) == ["a.partial.mp4", "b.partial.mp4"]
    for name in ("a", "b"):  # stopped where they were, not graded to the end
        assert 0 < stream_info(output / f"{name}.partial.mp4")["frames"] < 300
