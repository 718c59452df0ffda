"""``lutcli distill``: a teacher's look learned from unlabeled photos, the cache of its outputs,
and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_support import assert_one_error_line, noise, snapshot, write_picture

from lutcli.distillation.distill import BROKEN_AFTER
from lutcli.models.files import load_model
from teacher_support import FAIL, FAIL_ON_BAD, HANG, INVERT, script_teacher, write_look_cube

FAST = ("--epochs", "1", "--lut-size", "5")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """photos/a.png and photos/b.png, 16x24, unlabeled."""
    for seed, name in enumerate(("a.png", "b.png")):
        write_picture(tmp_path / "photos" / name, noise(16, 24, seed=seed))
    return tmp_path / "photos"


@pytest.fixture(autouse=True)
def no_home_cache(tmp_path, monkeypatch):
    """A run without --cache writes into LUTCLI_CACHE, never into the user's home."""
    monkeypatch.setenv("LUTCLI_CACHE", str(tmp_path / "env-cache"))


def test_distill_writes_the_model_and_counts_the_ground_truth(tmp_path, photos, invoke):
    script = script_teacher(tmp_path / "teacher", INVERT)
    output, cache = tmp_path / "m.pt", tmp_path / "cache"
    result = invoke(
        "distill", photos, "--teacher", script.spec, "-o", output, "--cache", cache, *FAST
    )
    assert result.exit_code == 0, result.output
    counts, summary, report = result.stdout.strip().splitlines()[-3:]
    assert counts == "ground truth: 2 pictures, 2 taught, 0 from the cache, 0 skipped"
    assert summary.startswith("done after 1 epochs") and summary.endswith(f"model: {output}")
    assert report == f"report: {tmp_path / 'm.report.png'}"
    model, info = load_model(output)
    assert model.name == "basic" and model.lut_size == 5
    assert info["teacher"] == script.spec and info["probe"] is False
    assert (tmp_path / "m.report.png").is_file()
    assert len(list(cache.rglob("*.png"))) == 2 and not (tmp_path / "env-cache").exists()

    again = invoke(
        "distill", photos, "--teacher", script.spec, "-o", output, "--cache", cache, "--overwrite",
        *FAST,
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert "ground truth: 2 pictures, 0 taught, 2 from the cache, 0 skipped" in again.stdout
    assert len(script.calls) == 2  # once per picture, over both runs


def test_without_cache_the_ground_truth_goes_to_lutcli_cache(tmp_path, photos, invoke):
    script = script_teacher(tmp_path / "teacher", INVERT)
    result = invoke("distill", photos, "--teacher", script.spec, "-o", tmp_path / "m.pt", *FAST)
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "env-cache" / "teachers").rglob("*.png"))) == 2


def test_quiet_prints_nothing(tmp_path, photos, invoke):
    cube = tmp_path / "look.cube"
    write_look_cube(cube, size=5)
    output = tmp_path / "m.pt"
    result = invoke(
        "distill", photos, "--teacher", cube, "-o", output, "--cache", tmp_path / "c", "-q", *FAST
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    assert output.is_file()


def test_the_probe_is_one_more_picture(tmp_path, photos, invoke):
    cube = tmp_path / "look.cube"
    write_look_cube(cube, size=5)
    output = tmp_path / "m.pt"
    result = invoke(
        "distill", photos, "--teacher", cube, "-o", output, "--cache", tmp_path / "c", "--probe",
        "--no-warm-start", *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ground truth: 3 pictures, 3 taught, 0 from the cache, 0 skipped" in result.stdout
    _, info = load_model(output)
    assert info["probe"] is True and info["pairs"] == 3
    assert "probe (identity Hald image)" not in info["validation_pairs"]


def test_a_picture_the_teacher_fails_on_is_a_warning(tmp_path, photos, invoke):
    write_picture(photos / "bad.png", noise(16, 24, seed=5))
    script = script_teacher(tmp_path / "teacher", FAIL_ON_BAD)
    output = tmp_path / "m.pt"
    result = invoke(
        "distill", photos, "--teacher", script.spec, "-o", output, "--cache", tmp_path / "c", "-q",
        *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: skipped: the teacher command on ")
    assert "bad.png" in warnings[0] and warnings[0].endswith("teacher: cannot handle bad.png")
    assert load_model(output)[1]["pairs"] == 2


# Errors -----------------------------------------------------------------------------------------


def test_a_missing_teacher_file_is_one_line(tmp_path, photos, invoke):
    missing = tmp_path / "nope.cube"
    output = tmp_path / "m.pt"
    result = invoke("distill", photos, "--teacher", missing, "-o", output, *FAST)
    assert_one_error_line(result, str(missing), "cmd:")
    assert not output.exists()


def test_a_command_without_placeholders_is_one_line(tmp_path, photos, invoke):
    output = tmp_path / "m.pt"
    result = invoke("distill", photos, "--teacher", "cmd:ffmpeg -i in.png out.png", "-o", output)
    assert_one_error_line(result, "{input} and {output}")
    assert not output.exists()


def test_a_command_with_unbalanced_quotes_is_one_line(tmp_path, photos, invoke):
    teacher = "cmd:ffmpeg -i {input} -vf 'eq {output}"
    result = invoke("distill", photos, "--teacher", teacher, "-o", tmp_path / "m.pt")
    assert_one_error_line(result, "cannot parse the teacher command")


def test_a_missing_images_folder_is_one_line(tmp_path, invoke):
    script = script_teacher(tmp_path / "teacher", INVERT)
    result = invoke("distill", tmp_path / "nope", "--teacher", script.spec, "-o", tmp_path / "m.pt")
    assert_one_error_line(result, "no folder", "nope")
    assert script.calls == []


def test_a_teacher_failing_on_everything_is_an_error_and_writes_no_model(tmp_path, invoke):
    folder = tmp_path / "photos"
    for index in range(BROKEN_AFTER + 1):
        write_picture(folder / f"p{index}.png", noise(16, 24, seed=index))
    script = script_teacher(tmp_path / "teacher", FAIL)
    output = tmp_path / "m.pt"
    result = invoke("distill", folder, "--teacher", script.spec, "-o", output, *FAST)
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.splitlines()
    # The pictures skipped on the way, then the error, on one line.
    assert all(line.startswith("warning: skipped:") for line in lines[:-1])
    assert len(lines) == BROKEN_AFTER
    assert lines[-1].startswith(f"Error: the teacher failed on the first {BROKEN_AFTER} pictures")
    assert lines[-1].endswith("teacher: this picture is cursed")
    assert not output.exists() and not (tmp_path / "m.report.png").exists()
    assert len(script.calls) == BROKEN_AFTER


def test_an_existing_model_is_kept_without_overwrite(tmp_path, photos, invoke):
    script = script_teacher(tmp_path / "teacher", INVERT)
    output = tmp_path / "m.pt"
    output.write_bytes(b"a model the user keeps")
    result = invoke("distill", photos, "--teacher", script.spec, "-o", output, *FAST)
    assert_one_error_line(result, str(output), "--overwrite")
    assert output.read_bytes() == b"a model the user keeps"


@pytest.mark.parametrize("timeout", ["0", "-1", "soon"])
def test_a_timeout_that_is_not_positive_is_a_usage_error(tmp_path, photos, invoke, timeout):
    script = script_teacher(tmp_path / "teacher", INVERT)
    result = invoke(
        "distill", photos, "--teacher", script.spec, "-o", tmp_path / "m.pt",
        "--teacher-timeout", timeout,
    )  # fmt: skip
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and "--teacher-timeout" in errors[0]
    assert script.calls == []


def test_a_teacher_is_required(tmp_path, photos, invoke):
    result = invoke("distill", photos, "-o", tmp_path / "m.pt")
    assert result.exit_code == 2
    assert "Missing option '--teacher'" in result.stderr


def test_a_command_slower_than_the_timeout_is_skipped(tmp_path, invoke):
    folder = tmp_path / "photos"
    write_picture(folder / "a.png", noise(16, 24))
    script = script_teacher(tmp_path / "teacher", HANG)
    result = invoke(
        "distill", folder, "--teacher", script.spec, "-o", tmp_path / "m.pt", "-q",
        "--teacher-timeout", "0.5", *FAST,
    )  # fmt: skip
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("warning: skipped:") and lines[0].endswith("did not finish in 0.5 s")
    assert lines[-1].startswith("Error: the teacher failed on every picture (1)")


def test_the_learned_look_is_the_teacher_s(tmp_path, photos, invoke):
    script = script_teacher(tmp_path / "teacher", INVERT)
    output = tmp_path / "m.pt"
    result = invoke(
        "distill", photos, "--teacher", script.spec, "-o", output, "--cache", tmp_path / "c", "-q",
        "--lut-size", "5", "--epochs", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    model, _ = load_model(output)
    corners = model.lut.detach().numpy()
    # Inversion is linear: a 5³ LUT holds it exactly; its black corner is white and vice versa.
    assert np.allclose(corners[:, 0, 0, 0], 1, atol=0.02)
    assert np.allclose(corners[:, -1, -1, -1], 0, atol=0.02)


@pytest.mark.parametrize("name", ["a.png", "look.pt", "sub/look.pt"])
def test_an_output_among_the_pictures_is_refused_before_the_teacher_runs(
    tmp_path, photos, invoke, name
):
    """Not a photo replaced by a model, nor a report added to the pictures of the next run."""
    (photos / "sub").mkdir()
    script = script_teacher(tmp_path / "teacher", INVERT)
    before = snapshot(photos)
    output = photos / name
    result = invoke("distill", photos, "--teacher", script.spec, "-o", output, "--overwrite", *FAST)
    assert_one_error_line(result, str(output))
    assert snapshot(photos) == before
    assert script.calls == []
