"""``lutcli apply``: files and folders, formats and bit depths, skipping, refusing, errors, and
interruptions that leave no partial file."""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import signal
import struct
import subprocess
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch
from cli_support import (
    LUTCLI,
    assert_one_error_line,
    gradient,
    noise,
    snapshot,
    temp_files,
    warm_lut,
    write_picture,
)
from skimage import data

import lutcli.fileutil
import lutcli.io.images
from clip_support import pan, write_clip
from lutcli.io.images import read_image
from lutcli.io.pixels import from_tensor, resize_pixels, to_tensor
from lutcli.lut.formats.cube import read_cube, write_cube
from lutcli.lut.interpolate import apply_lut
from lutcli.lut.luts import Lut3D, LutFile
from lutcli.models.base import LutModel
from lutcli.models.files import save_model
from lutcli.models.registry import create_model
from lutcli.presets import SHIPPED_PRESETS, USER_PRESETS_VARIABLE
from zoo_support import perturb


def expected_pixels(source: Path, lut: torch.Tensor, interp: str = "trilinear") -> np.ndarray:
    """What the look makes of ``source``, computed with the library: read, apply_lut, round."""
    pixels = read_image(source).pixels
    return from_tensor(apply_lut(to_tensor(pixels), lut, interp), pixels.dtype)


def level_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute differences in levels of the arrays' own bit depth."""
    assert a.shape == b.shape and a.dtype == b.dtype
    return np.abs(a.astype(np.int64) - b.astype(np.int64))


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder of the formats and depths lutcli keeps: JPEG, WebP, 8 and 16-bit PNG and TIFF,
    with and without alpha."""
    folder = tmp_path / "photos"
    write_picture(folder / "a.jpg", gradient(32, 48, seed=1))
    write_picture(folder / "b.png", noise(24, 40, seed=2))
    write_picture(
        folder / "c16.png",
        noise(24, 40, dtype=np.uint16, seed=3),
        noise(24, 40, 1, np.uint16, seed=4)[..., 0],
    )
    write_picture(folder / "d.tif", noise(24, 40, seed=5), noise(24, 40, 1, seed=6)[..., 0])
    write_picture(folder / "e.webp", gradient(32, 48, seed=7))
    write_picture(folder / "f16.tif", noise(24, 40, dtype=np.uint16, seed=8))
    return folder


LOSSLESS = ("b.png", "c16.png", "d.tif", "f16.tif")
LOSSY = ("a.jpg", "e.webp")


def test_folder_to_folder_keeps_names_formats_depth_and_alpha(tmp_path, photos, model_path, invoke):
    output = tmp_path / "graded"
    result = invoke("apply", photos, output, "--model", model_path)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in output.iterdir()) == sorted(p.name for p in photos.iterdir())
    assert result.stdout.strip().splitlines()[-1] == f"6 written to {output}"
    lut = warm_lut(17)
    for name in LOSSLESS + LOSSY:
        source, written = read_image(photos / name), read_image(output / name)
        assert written.pixels.dtype == source.pixels.dtype, name
        assert written.pixels.shape == source.pixels.shape, name
        if source.alpha is None:
            assert written.alpha is None, name
        else:
            np.testing.assert_array_equal(written.alpha, source.alpha, err_msg=name)
        difference = level_difference(written.pixels, expected_pixels(photos / name, lut))
        if name in LOSSLESS:
            assert difference.max() <= 1, name
        else:  # re-encoded at quality 95: close on a smooth picture
            assert difference.mean() < 1.5 and difference.max() <= 12, name
    # The look did something: the warm curve lifts red and lowers blue.
    before, after = read_image(photos / "b.png").pixels, read_image(output / "b.png").pixels
    assert after[..., 0].astype(int).sum() > before[..., 0].astype(int).sum()
    assert after[..., 2].astype(int).sum() < before[..., 2].astype(int).sum()
    assert read_image(output / "c16.png").bit_depth == 16
    assert not temp_files(output)


@pytest.mark.parametrize("parallel_jobs", ["2", "5"])
def test_parallel_jobs_write_the_same_bytes_as_one_at_a_time(
    tmp_path, photos, model_path, invoke, parallel_jobs
):
    outputs = {}
    for jobs in ("1", parallel_jobs):
        outputs[jobs] = tmp_path / f"out{jobs}"
        result = invoke("apply", photos, outputs[jobs], "--model", model_path, "-j", jobs, "-q")
        assert result.exit_code == 0, result.output
    for name in LOSSLESS + LOSSY:
        one, many = (outputs[jobs] / name for jobs in ("1", parallel_jobs))
        assert one.read_bytes() == many.read_bytes(), name


def test_jobs_below_one_are_refused(tmp_path, photos, model_path, invoke):
    result = invoke("apply", photos, tmp_path / "out", "--model", model_path, "--jobs", "0")
    assert result.exit_code == 2 and "--jobs" in result.stderr
    assert not (tmp_path / "out").exists()


def test_file_to_file(tmp_path, model_path, invoke):
    source = write_picture(tmp_path / "in.png", noise(16, 20))
    target = tmp_path / "new" / "folder" / "out.tif"  # another format, in folders made for it
    result = invoke("apply", source, target, "--model", model_path)
    assert result.exit_code == 0, result.output
    difference = level_difference(read_image(target).pixels, expected_pixels(source, warm_lut(17)))
    assert difference.max() <= 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.tif"]


def test_file_into_an_existing_folder(tmp_path, model_path, invoke):
    source = write_picture(tmp_path / "in.png", noise(16, 20))
    folder = tmp_path / "out"
    folder.mkdir()
    result = invoke("apply", source, folder, "--model", model_path)
    assert result.exit_code == 0, result.output
    assert [p.name for p in folder.iterdir()] == ["in.png"]
    difference = level_difference(
        read_image(folder / "in.png").pixels, expected_pixels(source, warm_lut(17))
    )
    assert difference.max() <= 1


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """photos/a.png, photos/sub/b.png, photos/sub/deeper/c.jpg."""
    folder = tmp_path / "photos"
    write_picture(folder / "a.png", noise(8, 8, seed=1))
    write_picture(folder / "sub" / "b.png", noise(8, 8, seed=2))
    write_picture(folder / "sub" / "deeper" / "c.jpg", gradient(8, 8))
    return folder


def test_recursive_walks_and_mirrors_subfolders(tmp_path, tree, model_path, invoke):
    output = tmp_path / "out"
    result = invoke("apply", tree, output, "--model", model_path, "--recursive")
    assert result.exit_code == 0, result.output
    assert sorted(snapshot(output)) == ["a.png", "sub/b.png", "sub/deeper/c.jpg"]
    assert f"3 written to {output}" in result.stdout


def test_without_recursive_subfolders_are_ignored(tmp_path, tree, model_path, invoke):
    output = tmp_path / "out"
    result = invoke("apply", tree, output, "--model", model_path)
    assert result.exit_code == 0, result.output
    assert sorted(snapshot(output)) == ["a.png"]
    assert not (output / "sub").exists()


def test_output_inside_input_is_not_processed_again(tree, model_path, invoke):
    output = tree / "graded"
    for _ in range(2):  # the second run finds the first run's outputs inside IN
        result = invoke("apply", tree, output, "--model", model_path, "-r", "--overwrite")
        assert result.exit_code == 0, result.output
        assert f"3 written to {output}" in result.stdout
    assert sorted(snapshot(output)) == ["a.png", "sub/b.png", "sub/deeper/c.jpg"]
    assert not (output / "graded").exists()


def test_existing_outputs_are_skipped_unless_overwrite(tmp_path, tree, model_path, invoke):
    output = tmp_path / "out"
    assert invoke("apply", tree, output, "--model", model_path, "-r").exit_code == 0
    (output / "a.png").write_bytes(b"a user's own file")
    result = invoke("apply", tree, output, "--model", model_path, "-r")
    assert result.exit_code == 0, result.output
    assert (output / "a.png").read_bytes() == b"a user's own file"
    assert result.stdout.strip().splitlines()[-1] == (
        f"0 written to {output}, 3 already there (--overwrite replaces)"
    )
    result = invoke("apply", tree, output, "--model", model_path, "-r", "--overwrite")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == f"3 written to {output}"
    assert read_image(output / "a.png").pixels.shape == (8, 8, 3)


@pytest.mark.parametrize("spelling", ["same", "dot", "parent", "symlink"])
def test_output_folder_that_is_the_input_folder_is_refused(
    tmp_path, tree, model_path, invoke, spelling
):
    output = {
        "same": tree,
        "dot": tree / ".",
        "parent": tree / "sub" / "..",
        "symlink": tmp_path / "link",
    }[spelling]
    if spelling == "symlink":
        output.symlink_to(tree, target_is_directory=True)
    before = snapshot(tree)
    result = invoke("apply", tree, output, "--model", model_path, "-r", "--overwrite", "-q")
    assert_one_error_line(result, "input folder")
    assert snapshot(tree) == before


def test_output_folder_above_the_input_folder_never_overwrites_an_input(
    tmp_path, model_path, invoke
):
    # OUT=photos, IN=photos/raw: photos/raw/raw/x.png would go to photos/raw/x.png, an input.
    inputs = tmp_path / "photos" / "raw"
    write_picture(inputs / "x.png", noise(8, 8, seed=1))
    write_picture(inputs / "raw" / "x.png", noise(8, 8, seed=2))
    before = snapshot(tmp_path / "photos")
    result = invoke(
        "apply", inputs, tmp_path / "photos", "--model", model_path, "-r", "--overwrite"
    )
    assert_one_error_line(result, "would overwrite the input", "x.png")
    assert snapshot(tmp_path / "photos") == before


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_file_onto_itself_is_refused(tmp_path, model_path, invoke, overwrite):
    source = write_picture(tmp_path / "in.png", noise(8, 8))
    before = source.read_bytes()
    for target in (source, tmp_path, tmp_path / "." / "in.png"):
        result = invoke("apply", source, target, "--model", model_path, *overwrite)
        assert_one_error_line(result, "in.png", "its own output")
        assert source.read_bytes() == before


def test_a_corrupt_image_is_reported_and_the_others_are_written(tmp_path, model_path, invoke):
    folder = tmp_path / "photos"
    write_picture(folder / "a.png", noise(8, 8, seed=1))
    (folder / "bad.jpg").write_bytes(np.random.default_rng(0).bytes(2000))
    write_picture(folder / "c.png", noise(8, 8, seed=2))
    output = tmp_path / "out"
    result = invoke("apply", folder, output, "--model", model_path)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert sorted(snapshot(output)) == ["a.png", "c.png"]
    assert any("bad.jpg" in line and "cannot read" in line for line in result.stderr.splitlines())
    assert result.stderr.strip().splitlines()[-1] == "Error: 1 of 3 files could not be processed"
    assert f"2 written to {output}" in result.stdout
    # With --quiet: no progress, only the failure and the summary error.
    result = invoke("apply", folder, tmp_path / "out2", "--model", model_path, "-q")
    assert result.exit_code == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 2, result.stderr


def test_file_names_are_printed_as_they_are_not_as_markup(tmp_path, model_path, invoke):
    folder = tmp_path / "photos [edit]"
    write_picture(folder / "ok [bold].png", noise(8, 8))
    (folder / "bad [red].jpg").write_bytes(b"not a picture")
    (folder / "[").mkdir()
    (folder / "[" / "].png").write_bytes(b"not a picture either")  # the path holds "[/]"
    # One job at a time, in name order: the progress line ends on the last name, "ok [bold]".
    result = invoke("apply", folder, tmp_path / "out", "--model", model_path, "-r", "-j", "1")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    assert isinstance(result.exception, SystemExit), result.exception
    assert "bad [red].jpg" in result.stderr
    assert "[/].png" in result.stderr
    assert "ok [bold].png" in result.stderr  # the progress line
    assert (tmp_path / "out" / "ok [bold].png").is_file()


def cube_file(tmp_path: Path, size: int = 9) -> Path:
    path = tmp_path / "look.cube"
    write_cube(LutFile(Lut3D(warm_lut(size, 0.2).numpy()), title="warm"), path)
    return path


def test_lut_and_cube_are_one_option_and_notes_of_the_file_are_shown(tmp_path, invoke):
    cube = cube_file(tmp_path)
    cube.write_text("LUT_VENDOR_FLAG 7\n" + cube.read_text())  # another tool's keyword
    source = write_picture(tmp_path / "in.png", noise(20, 30))
    written = {}
    for option in ("--lut", "--cube"):
        target = tmp_path / f"out{option}.png"
        result = invoke("apply", source, target, option, cube)
        assert result.exit_code == 0, result.output
        notes = [line for line in result.stderr.splitlines() if "LUT_VENDOR_FLAG" in line]
        assert len(notes) == 1 and "ignored" in notes[0]
        written[option] = read_image(target).pixels
    np.testing.assert_array_equal(written["--lut"], written["--cube"])
    quiet = invoke("apply", source, tmp_path / "quiet.png", "--lut", cube, "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_a_lut_option_that_is_no_lut_file_is_one_line(tmp_path, invoke):
    source = write_picture(tmp_path / "in.png", noise(4, 4))
    junk = tmp_path / "notes.txt"
    junk.write_text("just words\n")
    assert_one_error_line(invoke("apply", source, tmp_path / "o.png", "--lut", junk), "notes.txt")
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("look", ["--lut", "--requirement"])
def test_a_lut_file_is_applied_to_photos_and_clips_without_loading_torch(tmp_path, look):
    """torch takes a second or more to load (far more on a busy machine): a LUT file needs
    numpy and the compiled kernel alone; and with --quiet nothing is shown, so rich (a tenth of
    the start-up) is not loaded either. The real program, its imports listed by Python."""
    folder = tmp_path / "in"
    write_picture(folder / "photo.png", noise(20, 30))
    write_clip(folder / "clip.mp4", pan(data.astronaut(), 5), audio=False)
    chosen = str(cube_file(tmp_path)) if look == "--lut" else "film"  # film: a .cube preset
    done = subprocess.run(
        [LUTCLI, "apply", folder, tmp_path / "out", look, chosen, "-q"],
        env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mp4", "photo.png"]
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"numpy", "cv2", "av"} <= imported  # the listing holds what the run loaded
    assert "torch" not in imported
    assert not [name for name in imported if name.split(".")[0] == "rich"]


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
def test_cube_look_equals_the_cube_file_applied(tmp_path, invoke, interp):
    cube = cube_file(tmp_path)
    source = write_picture(tmp_path / "in.png", noise(20, 30))
    target = tmp_path / "out.png"
    result = invoke("apply", source, target, "--cube", cube, "--interp", interp)
    assert result.exit_code == 0, result.output
    pixels = read_image(source).pixels
    reference = from_tensor(
        read_cube(cube).lut.with_interp(interp).apply(to_tensor(pixels)), np.uint8
    )
    assert level_difference(read_image(target).pixels, reference).max() <= 1


def test_truncated_cube_is_one_line_naming_the_file(tmp_path, tree, invoke):
    cube = cube_file(tmp_path)
    text = cube.read_text()
    cube.write_text(text[: len(text) // 2])
    output = tmp_path / "out"
    result = invoke("apply", tree, output, "--cube", cube)
    assert_one_error_line(result, str(cube), "truncated")
    assert not output.exists()


@pytest.mark.parametrize("looks", ["neither", "both"])
def test_exactly_one_look_is_required(tmp_path, tree, model_path, invoke, looks):
    args = [] if looks == "neither" else ["--model", model_path, "--cube", cube_file(tmp_path)]
    output = tmp_path / "out"
    result = invoke("apply", tree, output, *args)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and "exactly one look" in result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()


class Hostile:
    """Unpickling this runs code: it creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_hostile_model_file_is_refused_without_running_it(tmp_path, tree, invoke, how):
    marker = tmp_path / "MARKER"
    hostile = tmp_path / "look.pt"
    if how == "pickle":
        with hostile.open("wb") as handle:
            pickle.dump(Hostile(marker), handle)
    else:
        torch.save({"format": "lutcli-model", "state_dict": Hostile(marker)}, hostile)
    output = tmp_path / "out"
    result = invoke("apply", tree, output, "--model", hostile)
    assert_one_error_line(result, "refused", str(hostile))
    assert not marker.exists()
    assert not output.exists()


def test_hostile_model_refusal_is_one_line_in_a_real_process(tmp_path):
    marker = tmp_path / "MARKER"
    hostile = tmp_path / "look.pt"
    with hostile.open("wb") as handle:
        pickle.dump(Hostile(marker), handle)
    write_picture(tmp_path / "in.png", noise(8, 8))
    command = [LUTCLI, "apply", tmp_path / "in.png", tmp_path / "out.png", "--model", hostile]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and not marker.exists()
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"Error: refused '{hostile}': ") and "nothing in it was run" in line


def test_damaged_model_file_is_one_line(tmp_path, tree, invoke):
    damaged = tmp_path / "look.pt"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    assert_one_error_line(invoke("apply", tree, tmp_path / "out", "--model", damaged), str(damaged))


@pytest.mark.parametrize("missing", ["input", "model", "cube"])
def test_missing_files_are_one_line(tmp_path, tree, model_path, invoke, missing):
    source = tmp_path / "nope" if missing == "input" else tree
    look = {
        "input": ["--model", model_path],
        "model": ["--model", tmp_path / "nope.pt"],
        "cube": ["--cube", tmp_path / "nope.cube"],
    }[missing]
    output = tmp_path / "out"
    assert_one_error_line(invoke("apply", source, output, *look), "nope")
    assert not output.exists()


def test_empty_folder_and_unknown_output_type_are_one_line(tmp_path, model_path, invoke):
    (tmp_path / "empty").mkdir()
    result = invoke("apply", tmp_path / "empty", tmp_path / "out", "--model", model_path)
    assert_one_error_line(result, "no images")
    source = write_picture(tmp_path / "in.png", noise(8, 8))
    result = invoke("apply", source, tmp_path / "out.gif", "--model", model_path)
    assert_one_error_line(result, "out.gif")
    assert not (tmp_path / "out.gif").exists()


def test_quiet_prints_nothing(tmp_path, tree, model_path, invoke):
    result = invoke("apply", tree, tmp_path / "out", "--model", model_path, "-r", "--quiet")
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""
    assert len(snapshot(tmp_path / "out")) == 3


def test_tetrahedral_interpolation(tmp_path, model_path, invoke):
    source = write_picture(tmp_path / "in.png", noise(20, 30))
    target = tmp_path / "out.png"
    result = invoke("apply", source, target, "--model", model_path, "--interp", "tetrahedral")
    assert result.exit_code == 0, result.output
    expected = expected_pixels(source, warm_lut(17), "tetrahedral")
    assert level_difference(read_image(target).pixels, expected).max() <= 1


def test_device_cpu(tmp_path, model_path, invoke):
    source = write_picture(tmp_path / "in.png", noise(12, 12))
    target = tmp_path / "out.png"
    result = invoke("apply", source, target, "--model", model_path, "--device", "cpu", "-q")
    assert result.exit_code == 0, result.output
    assert (
        level_difference(read_image(target).pixels, expected_pixels(source, warm_lut(17))).max()
        <= 1
    )


def test_device_cuda_without_a_gpu_is_one_line(tmp_path, model_path, invoke, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on a machine without
    source = write_picture(tmp_path / "in.png", noise(12, 12))
    result = invoke(
        "apply", source, tmp_path / "out.png", "--model", model_path, "--device", "cuda"
    )
    assert_one_error_line(result, "CUDA")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.gpu
def test_device_cuda_matches_the_cpu(tmp_path, model_path, invoke):
    source = write_picture(tmp_path / "in.png", noise(64, 64, dtype=np.uint16))
    for device in ("cpu", "cuda"):
        result = invoke(
            "apply", source, tmp_path / f"{device}.png", "--model", model_path, "--device", device
        )
        assert result.exit_code == 0, result.output
    difference = level_difference(
        read_image(tmp_path / "cpu.png").pixels, read_image(tmp_path / "cuda.png").pixels
    )
    assert difference.max() <= 1


# Interruptions --------------------------------------------------------------------------------


def interrupt_second_write(monkeypatch, when: str) -> None:
    """Make the 2nd image write raise KeyboardInterrupt: half-way through writing its temporary
    file, or after writing it whole, just before the rename (or, not to replace a file, the
    link) that would publish it. Writes are numbered as they start (next() on a counter is
    atomic), so parallel jobs stop once too."""
    writes, renames = itertools.count(1), itertools.count(1)
    real_atomic_write = lutcli.io.images.atomic_write
    real_replace, real_link = os.replace, os.link

    @contextlib.contextmanager
    def atomic_write(path, replace=True):
        number = next(writes)
        with real_atomic_write(path, replace) as handle:
            if number == 2 and when == "writing":
                handle.write(b"\x89PNG\r\n\x1a\n half a picture")
                handle.flush()
                raise KeyboardInterrupt
            yield handle

    def publishing(real):
        def publish(source, destination):
            if next(renames) == 2 and when == "renaming":
                assert Path(source).is_file()  # the whole temporary file is there
                raise KeyboardInterrupt
            real(source, destination)

        return publish

    monkeypatch.setattr(lutcli.io.images, "atomic_write", atomic_write)
    monkeypatch.setattr(lutcli.fileutil.os, "replace", publishing(real_replace))
    monkeypatch.setattr(lutcli.fileutil.os, "link", publishing(real_link))


@pytest.mark.parametrize("parallel_jobs", ["1", "3"])
@pytest.mark.parametrize("when", ["writing", "renaming"])
def test_interrupted_apply_leaves_no_partial_file(
    tmp_path, model_path, invoke, monkeypatch, when, parallel_jobs
):
    folder = tmp_path / "photos"
    for index in range(4):
        write_picture(folder / f"{index}.png", noise(16, 16, seed=index))
    output = tmp_path / "out"
    interrupt_second_write(monkeypatch, when)
    result = invoke("apply", folder, output, "--model", model_path, "-q", "--jobs", parallel_jobs)
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and "Traceback" not in result.stderr
    written = sorted(snapshot(output))
    if parallel_jobs == "1":
        assert written == ["0.png"]
    else:  # photos already started finish, in any order; the interrupted one is not written
        assert len(written) < 4
    for name in written:
        assert read_image(output / name).pixels.shape == (16, 16, 3)
    assert not temp_files(output)


@pytest.mark.parametrize("delay", [0.0, 0.05])
def test_sigint_during_a_real_run_leaves_only_whole_files(tmp_path, model_path, delay):
    folder = tmp_path / "photos"
    # Enough work that the run is still going when the signal comes: parallel jobs and the
    # compiled kernel get through a small photo in a few milliseconds.
    count = 40
    base = gradient(800, 1200)
    for index in range(count):
        write_picture(folder / f"{index:02d}.png", np.roll(base, 7 * index, axis=1))
    output = tmp_path / "out"
    command = [str(LUTCLI), "apply", str(folder), str(output), "--model", str(model_path), "-q"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a test run started in the background (`make test &`) has SIGINT
        # ignored, which its children would inherit, and Python then installs no handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 90
        while not (output.is_dir() and any(p.suffix == ".png" for p in output.iterdir())):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no output appeared"
            time.sleep(0.005)
        time.sleep(delay)  # lands somewhere else in the next image
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "Traceback" not in stderr, stderr
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert stdout == ""
    assert not temp_files(output)
    written = sorted(output.iterdir())
    assert 1 <= len(written) < count
    for path in written:
        picture = read_image(path)  # raises for a truncated file
        assert picture.pixels.shape == (800, 1200, 3), path


# Presets (--requirement) and resizing (--scale) ----------------------------------------------


@pytest.fixture
def shipped_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the shipped presets, whatever $LUTCLI_PRESETS the tests run under."""
    monkeypatch.delenv(USER_PRESETS_VARIABLE, raising=False)


@pytest.mark.parametrize("name", ["warm", "film", "bw"])
def test_requirement_applies_the_shipped_preset(tmp_path, invoke, shipped_only, name):
    source = write_picture(tmp_path / "in.png", noise(20, 30))
    by_name, by_file = tmp_path / "by-name.png", tmp_path / "by-file.png"
    result = invoke("apply", source, by_name, "--requirement", name)
    assert result.exit_code == 0, result.output
    assert f"1 written to {by_name}" in result.stdout
    cube = SHIPPED_PRESETS / f"{name}.cube"
    assert invoke("apply", source, by_file, "--cube", cube).exit_code == 0
    np.testing.assert_array_equal(read_image(by_name).pixels, read_image(by_file).pixels)
    assert level_difference(read_image(by_name).pixels, read_image(source).pixels).max() > 0


def test_requirement_runs_a_users_model_preset(tmp_path, invoke, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    torch.manual_seed(0)
    model = perturb(create_model("first-linear", lut_size=5, basis_count=2))
    save_model(mine / "fixer.pt", model, {"description": "fixes my camera"})
    monkeypatch.setenv(USER_PRESETS_VARIABLE, str(mine))
    source = write_picture(tmp_path / "in.png", gradient(24, 32))
    result = invoke("apply", source, tmp_path / "by-name.png", "--requirement", "fixer", "-q")
    assert result.exit_code == 0, result.output
    result = invoke("apply", source, tmp_path / "by-file.png", "--model", mine / "fixer.pt", "-q")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(
        read_image(tmp_path / "by-name.png").pixels, read_image(tmp_path / "by-file.png").pixels
    )


def test_an_unknown_requirement_is_one_line_listing_the_known_ones(
    tmp_path, tree, invoke, shipped_only
):
    output = tmp_path / "out"
    result = invoke("apply", tree, output, "--requirement", "nope")
    line = assert_one_error_line(result, "'nope'", "known:", "warm", "film", "bw")
    assert "make presets" not in line
    assert not output.exists()


@pytest.mark.parametrize("looks", ["model", "cube", "model and cube"])
def test_requirement_with_another_look_is_a_usage_error(
    tmp_path, tree, model_path, invoke, shipped_only, looks
):
    others = {
        "model": ["--model", model_path],
        "cube": ["--cube", cube_file(tmp_path)],
        "model and cube": ["--model", model_path, "--cube", cube_file(tmp_path)],
    }[looks]
    output = tmp_path / "out"
    result = invoke("apply", tree, output, "--requirement", "warm", *others)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr and "exactly one look" in result.stderr
    assert "--requirement" in result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()


def test_no_look_at_all_names_requirement_too(tmp_path, tree, invoke):
    result = invoke("apply", tree, tmp_path / "out")
    assert result.exit_code == 2
    assert "exactly one look" in result.stderr and "--requirement NAME" in result.stderr
    assert not (tmp_path / "out").exists()


def downsampled(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """``pixels`` shrunk (area) or enlarged (bicubic) with OpenCV, independent of lutcli."""
    shrinking = height < pixels.shape[0]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(pixels, (width, height), interpolation=interp)


def apply_at(invoke, source: Path, target: Path, scale: str, *look: object) -> np.ndarray:
    result = invoke("apply", source, target, *look, "--scale", scale, "-q")
    assert result.exit_code == 0, result.output
    return read_image(target).pixels


def test_scale_half_writes_half_the_size_with_the_looks_colors(tmp_path, invoke, shipped_only):
    source = write_picture(tmp_path / "in.png", gradient(64, 96))  # a smooth photo
    look = ("--requirement", "film")
    full = apply_at(invoke, source, tmp_path / "full.png", "1", *look)
    half = apply_at(invoke, source, tmp_path / "half.png", "0.5", *look)
    assert full.shape == (64, 96, 3) and half.shape == (32, 48, 3)
    difference = level_difference(half, downsampled(full, 32, 48))
    assert difference.mean() < 1 and difference.max() <= 4


def test_scale_one_and_a_half_enlarges(tmp_path, invoke, shipped_only):
    source = write_picture(tmp_path / "in.png", gradient(40, 60))
    look = ("--requirement", "vivid")
    full = apply_at(invoke, source, tmp_path / "full.png", "1", *look)
    large = apply_at(invoke, source, tmp_path / "large.png", "1.5", *look)
    assert large.shape == (60, 90, 3)
    difference = level_difference(large, downsampled(full, 60, 90))
    assert difference.mean() < 1 and difference.max() <= 3


def test_scale_rounds_to_whole_pixels(tmp_path, model_path, invoke):
    source = write_picture(tmp_path / "in.png", gradient(52, 68))
    small = apply_at(invoke, source, tmp_path / "small.png", "0.4", "--model", model_path)
    assert small.shape == (21, 27, 3)  # 20.8 x 27.2
    tiny = apply_at(invoke, source, tmp_path / "tiny.png", "0.001", "--model", model_path)
    assert tiny.shape == (1, 1, 3)  # never less than a pixel


def test_scale_of_a_folder_resizes_every_output(tmp_path, tree, model_path, invoke):
    output = tmp_path / "out"
    result = invoke("apply", tree, output, "--model", model_path, "-r", "--scale", "0.5")
    assert result.exit_code == 0, result.output
    assert f"3 written to {output}" in result.stdout
    for name in ("a.png", "sub/b.png", "sub/deeper/c.jpg"):
        assert read_image(output / name).pixels.shape == (4, 4, 3), name


def adaptive_model(path: Path, lut_noise: float) -> LutModel:
    """A first-linear model moved away from its start (as if trained, its convolution features
    let in at full weight), saved at ``path``."""
    torch.manual_seed(0)
    model = perturb(create_model("first-linear", lut_size=9), lut_noise=lut_noise).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(".gate"):
                parameter.fill_(1.0)
    save_model(path, model)
    return model


def test_an_adaptive_model_at_a_quarter_gives_the_colors_of_the_full_size(tmp_path, invoke):
    model = tmp_path / "auto.pt"
    adaptive_model(model, lut_noise=0.02)
    source = write_picture(tmp_path / "in.png", gradient(64, 96))
    full = apply_at(invoke, source, tmp_path / "full.png", "1", "--model", model)
    quarter = apply_at(invoke, source, tmp_path / "quarter.png", "0.25", "--model", model)
    assert quarter.shape == (16, 24, 3)
    assert level_difference(full, read_image(source).pixels).mean() > 3  # the model does change
    difference = level_difference(quarter, downsampled(full, 16, 24))
    assert difference.mean() < 1.5 and difference.max() <= 8


def test_an_adaptive_model_chooses_its_lut_from_the_whole_photo(tmp_path, invoke):
    path = tmp_path / "auto.pt"
    model = adaptive_model(path, lut_noise=0.05)
    photo = cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    source = write_picture(tmp_path / "in.png", photo)
    quarter = apply_at(invoke, source, tmp_path / "quarter.png", "0.25", "--model", path)
    pixels = read_image(source).pixels
    whole = to_tensor(pixels)
    thumbnail = to_tensor(resize_pixels(pixels, (32, 32)))  # the resampling apply uses
    with torch.no_grad():
        chosen = from_tensor(model(thumbnail, context=whole), np.uint8)
        alone = from_tensor(model(thumbnail, context=thumbnail), np.uint8)
    # The thumbnail's colors as the model chooses them for the whole photo...
    assert level_difference(quarter, chosen).max() <= 1
    # ... which are not those it would choose seeing the thumbnail alone.
    assert level_difference(chosen, alone).max() >= 5


def test_scale_resizes_the_alpha_channel_too(tmp_path, model_path, invoke):
    alpha = np.tile(np.linspace(0, 255, 60).round().astype(np.uint8), (40, 1))
    source = write_picture(tmp_path / "in.png", gradient(40, 60), alpha)
    for scale, size in (("0.5", (20, 30)), ("1.5", (60, 90))):
        target = tmp_path / f"out{scale}.png"
        apply_at(invoke, source, target, scale, "--model", model_path)
        written = read_image(target)
        assert written.pixels.shape == (*size, 3)
        assert written.alpha is not None and written.alpha.shape == size
        expected = downsampled(alpha[..., None].repeat(3, axis=2), *size)[..., 0]
        assert level_difference(written.alpha, expected).max() <= 2, scale


def test_scale_keeps_16_bits(tmp_path, model_path, invoke):
    pixels = gradient(40, 60).astype(np.uint16) * 257
    source = write_picture(tmp_path / "in.png", pixels)
    full = apply_at(invoke, source, tmp_path / "full.png", "1", "--model", model_path)
    half = apply_at(invoke, source, tmp_path / "half.png", "0.5", "--model", model_path)
    assert read_image(tmp_path / "half.png").bit_depth == 16
    assert half.dtype == np.uint16 and half.shape == (20, 30, 3)
    difference = level_difference(half, downsampled(full, 20, 30))
    assert difference.mean() < 257  # under one 8-bit level


@pytest.mark.parametrize(
    ("scale", "named"), [("0", "x>0"), ("-1", "x>0"), ("half", "not a valid float")]
)
def test_a_scale_that_is_not_above_zero_is_a_usage_error(
    tmp_path, model_path, invoke, scale, named
):
    source = write_picture(tmp_path / "in.png", noise(8, 8))
    target = tmp_path / "out.png"
    result = invoke("apply", source, target, "--model", model_path, "--scale", scale)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert "'--scale'" in errors[0] and named in errors[0], errors[0]
    assert not target.exists()


# Limits, what is left out, and what reading changed ---------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header says ``width`` x ``height`` (RGB, 8-bit)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload)
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(bytes(1 + 3 * 16) * 4)  # a few rows; never decoded
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.mark.parametrize("requirement", ["warm", "auto"])
def test_a_small_file_claiming_a_huge_photo_is_one_line_and_the_others_go_on(
    tmp_path, invoke, shipped_only, requirement
):
    """QA: a 1.8 MB PNG of 30000 x 20000 took 4.1 GB (warm) and 9.4 GB (auto)."""
    folder = tmp_path / "photos"
    write_picture(folder / "a.png", noise(8, 8))
    (folder / "bomb.png").write_bytes(png_claiming(30000, 20000))
    output = tmp_path / "out"
    result = invoke("apply", folder, output, "--requirement", requirement)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    # One line names the bomb; the progress bar may also end on its name, whichever finished last.
    [line] = [line for line in result.stderr.splitlines() if "cannot read" in line]
    assert "bomb.png" in line, line
    assert "30000x20000 is 600.0 MP, over the limit of 179.0 MP" in line, line
    assert "--max-pixels" in line
    assert sorted(snapshot(output)) == ["a.png"]


def test_max_pixels_lowers_or_raises_the_limit(tmp_path, model_path, invoke, monkeypatch):
    source = write_picture(tmp_path / "in.png", noise(20, 30))  # 600 pixels
    result = invoke(
        "apply", source, tmp_path / "a.png", "--model", model_path, "--max-pixels", "599"
    )
    assert result.exit_code == 1 and "over the limit" in result.stderr
    assert not (tmp_path / "a.png").exists()
    monkeypatch.setenv("LUTCLI_MAX_PIXELS", "100")
    result = invoke(
        "apply", source, tmp_path / "b.png", "--model", model_path, "--max-pixels", "600"
    )
    assert result.exit_code == 0, result.output  # the option over the environment
    result = invoke("apply", source, tmp_path / "c.png", "--model", model_path)
    assert result.exit_code == 1 and "over the limit" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [(["--max-pixels", "0"], "'--max-pixels'"), (["--max-pixels", "many"], "'--max-pixels'")],
)
def test_a_max_pixels_that_is_not_a_count_is_a_usage_error(
    tmp_path, model_path, invoke, args, fragment
):
    source = write_picture(tmp_path / "in.png", noise(8, 8))
    result = invoke("apply", source, tmp_path / "out.png", "--model", model_path, *args)
    assert result.exit_code == 2 and fragment in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_a_bad_max_pixels_variable_is_one_line_before_any_photo(
    tmp_path, tree, model_path, invoke, monkeypatch
):
    monkeypatch.setenv("LUTCLI_MAX_PIXELS", "lots")
    result = invoke("apply", tree, tmp_path / "out", "--model", model_path)
    assert_one_error_line(result, "LUTCLI_MAX_PIXELS", "'lots'")
    assert not (tmp_path / "out").exists()


def test_files_lutcli_does_not_read_are_named_in_one_line(tmp_path, model_path, invoke):
    """QA: .gif, .heic, .dng and broken links were left out without a word."""
    folder = tmp_path / "photos"
    write_picture(folder / "a.png", noise(8, 8))
    for name in ("b.gif", "c.heic", "d.dng", "sub/f.dng"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(b"something")
    (folder / "e.jpg").symlink_to(tmp_path / "gone.jpg")
    output = tmp_path / "out"
    result = invoke("apply", folder, output, "--model", model_path, "-r")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if "left out" in line]
    assert lines == [
        "warning: left out 5 files lutcli does not read: b.gif, c.heic, d.dng, e.jpg, sub/f.dng"
    ]
    assert sorted(snapshot(output)) == ["a.png"]
    quiet = invoke("apply", folder, tmp_path / "out2", "--model", model_path, "-q")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_a_long_list_of_left_out_files_is_cut_short(tmp_path, model_path, invoke):
    folder = tmp_path / "photos"
    write_picture(folder / "a.png", noise(8, 8))
    for index in range(12):
        (folder / f"{index:02d}.gif").write_bytes(b"gif")
    result = invoke("apply", folder, tmp_path / "out", "--model", model_path)
    [line] = [line for line in result.stderr.splitlines() if "left out" in line]
    assert line.startswith("warning: left out 12 files lutcli does not read: 00.gif, 01.gif")
    assert line.endswith("09.gif and 2 more")


def test_what_reading_changed_is_a_warning_naming_the_photo(tmp_path, model_path, invoke):
    """QA: a multi-page TIFF lost its later pages without a word."""
    source = tmp_path / "pages.tif"
    tifffile.imwrite(source, np.stack([noise(8, 8, seed=n) for n in range(3)]), photometric="rgb")
    result = invoke("apply", source, tmp_path / "out.tif", "--model", model_path, "-q")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"warning: {source}: only the first of its 3 pages is processed"
    ]
    assert read_image(tmp_path / "out.tif").pixels.shape == (8, 8, 3)


def test_a_photo_another_run_wrote_meanwhile_is_kept(tmp_path, model_path, invoke, monkeypatch):
    """QA: two runs into one OUT without --overwrite replaced each other's photos."""
    source = write_picture(tmp_path / "in.png", noise(8, 8))
    target = tmp_path / "out.png"
    real_write = lutcli.io.images.atomic_write

    @contextlib.contextmanager
    def racing(path, replace=True):
        with real_write(path, replace) as handle:
            yield handle
            Path(path).write_bytes(b"the other run's")  # it finished first

    monkeypatch.setattr(lutcli.io.images, "atomic_write", racing)
    result = invoke("apply", source, target, "--model", model_path)
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == b"the other run's"
    assert "appeared meanwhile" in result.stderr and "0 written" in result.stdout
    assert not temp_files(tmp_path)
