"""``lutcli train``: a tiny training run end to end, resuming it, and one-line errors.

The runs use ``--lut-size 9``: the exact warm start of a 33³ LUT alone takes many seconds on a
small machine, and the size changes nothing the command line does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_support import (
    assert_one_error_line,
    noise,
    save_warm_model,
    snapshot,
    temp_files,
    write_picture,
)

from disk_support import fill_the_disk
from lutcli.io.images import read_image
from lutcli.io.pixels import to_tensor
from lutcli.models.files import load_model
from lutcli.models.registry import MODELS
from lutcli.training.trainer import load_state

FAST = ("--lut-size", "9", "--crop-size", "32", "--batch-size", "2")


def known_look(rgb: np.ndarray) -> np.ndarray:
    """The color transform the pairs show: warmer, a little more contrast in green."""
    values = rgb / 255.0
    out = np.stack(
        [values[..., 0] ** 0.8, values[..., 1] ** 1.1, 0.9 * values[..., 2] + 0.05], axis=-1
    )
    return (out * 255).round().clip(0, 255).astype(np.uint8)


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    """pairs/input/p{0,1,2}.png and their targets through ``known_look``, 48x48."""
    folder = tmp_path / "pairs"
    for index in range(3):
        pixels = noise(48, 48, seed=index)
        write_picture(folder / "input" / f"p{index}.png", pixels)
        write_picture(folder / "target" / f"p{index}.png", known_look(pixels))
    return folder


def test_train_writes_the_model_and_its_state(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--epochs", "2", "-q", *FAST)
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    assert output.is_file() and (tmp_path / "m.training.pt").is_file()
    model, info = load_model(output)
    assert model.name == "basic" and model.lut_size == 9
    assert info["pairs"] == 3
    # It learned the look: its output on an input is close to the target.
    source = read_image(pairs / "input" / "p0.png").pixels
    target = to_tensor(read_image(pairs / "target" / "p0.png").pixels)
    error = (model(to_tensor(source)).clamp(0, 1) - target).pow(2).mean().item()
    assert 10 * np.log10(1 / error) > 30


def test_train_prints_a_summary(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--epochs", "1", *FAST)
    assert result.exit_code == 0, result.output
    summary, report = result.stdout.strip().splitlines()[-2:]
    assert summary.startswith("done after 1 epochs") and summary.endswith(f"model: {output}")
    assert report == f"report: {tmp_path / 'm.report.png'}"
    assert "Traceback" not in result.stderr


def test_resume_continues_a_run(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    state = tmp_path / "m.training.pt"
    result = invoke("train", pairs, "-o", output, "--epochs", "2", "-q", *FAST)
    assert result.exit_code == 0, result.output
    assert load_state(state)["epoch"] == 2
    result = invoke("train", pairs, "-o", output, "--epochs", "4", "--resume", *FAST)
    assert result.exit_code == 0, result.output
    assert "after 4 epochs" in result.stdout
    saved = load_state(state)
    assert saved["epoch"] == 4
    assert [entry["epoch"] for entry in saved["history"]] == [0, 1, 2, 3, 4]
    load_model(output)


def test_overwrite_starts_again(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    save_warm_model(output, 5)
    result = invoke("train", pairs, "-o", output, "--epochs", "1", "-q", "--overwrite", *FAST)
    assert result.exit_code == 0, result.output
    load_model(output)


def make_bad_pairs(tmp_path: Path, pairs: Path, problem: str) -> Path:
    if problem == "missing folder":
        return tmp_path / "nope"
    if problem == "no input/ and target/":
        (tmp_path / "flat").mkdir()
        write_picture(tmp_path / "flat" / "a.png", noise(8, 8))
        return tmp_path / "flat"
    if problem == "empty input folder":
        for side in ("input", "target"):
            (tmp_path / "empty" / side).mkdir(parents=True)
        return tmp_path / "empty"
    if problem == "input without target":
        (pairs / "target" / "p1.png").unlink()
        return pairs
    raise AssertionError(problem)


@pytest.mark.parametrize(
    ("problem", "named"),
    [
        ("missing folder", "nope"),
        ("no input/ and target/", "input/ and target/"),
        ("empty input folder", "no images"),
        ("input without target", "p1.png"),
    ],
)
def test_unusable_pairs_folders_are_one_line(tmp_path, pairs, invoke, problem, named):
    folder = make_bad_pairs(tmp_path, pairs, problem)
    output = tmp_path / "m.pt"
    result = invoke("train", folder, "-o", output, "--epochs", "1", *FAST)
    assert_one_error_line(result, named)
    assert not output.exists()


def test_existing_output_is_kept_without_overwrite_or_resume(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    output.write_bytes(b"a model the user keeps")
    result = invoke("train", pairs, "-o", output, "--epochs", "1", *FAST)
    assert_one_error_line(result, str(output), "--overwrite", "--resume")
    assert output.read_bytes() == b"a model the user keeps"


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--resume"], "nothing to resume"),
        (["--model", "nosuch"], "unknown model 'nosuch'"),
    ],
)
def test_other_mistakes_are_one_line(tmp_path, pairs, invoke, args, named):
    result = invoke("train", pairs, "-o", tmp_path / "m.pt", "--epochs", "1", *args, *FAST)
    assert_one_error_line(result, named)


def test_output_in_a_missing_folder_is_one_line(tmp_path, pairs, invoke):
    result = invoke("train", pairs, "-o", tmp_path / "no" / "m.pt", "--epochs", "1", *FAST)
    assert_one_error_line(result, "no folder")


def test_warnings_print_file_names_as_they_are(tmp_path, invoke):
    folder = tmp_path / "pairs"
    pixels = noise(32, 32)
    write_picture(folder / "input" / "a [b].png", pixels)
    write_picture(folder / "target" / "a [b].png", known_look(pixels)[:16, :24])
    result = invoke("train", folder, "-o", tmp_path / "m.pt", "--epochs", "1", "-q", *FAST)
    assert result.exit_code == 0, result.output
    assert "target 'a [b].png' is 24x16" in result.stderr


# Zoo models ------------------------------------------------------------------------------------


def test_train_a_zoo_model_with_its_options(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    result = invoke(
        "train", pairs, "-o", output, "--model", "first-linear", "--lut-size", "5",
        "--epochs", "1", "--model-option", "basis_count=2", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    model, _ = load_model(output)
    assert model.name == "first-linear"
    assert model.config() == {"lut_size": 5, "basis_count": 2, "features": 2}
    # The report beside the model is a picture that opens (curves and validation photos).
    report = read_image(tmp_path / "m.report.png").pixels
    assert report.ndim == 3 and min(report.shape[:2]) > 100


def test_progress_names_the_stage_of_a_staged_model(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    result = invoke(
        "train", pairs, "-o", output, "--model", "first-product", "--lut-size", "5",
        "--epochs", "2", "--first-stage-epochs", "1", "--crop-size", "48", "--batch-size", "1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "epoch 2/2 (all)" in result.stderr  # the bar's last state: the second stage
    assert "done after 2 epochs" in result.stdout


def test_a_model_option_without_a_value_is_a_usage_error(tmp_path, pairs, invoke):
    result = invoke("train", pairs, "-o", tmp_path / "m.pt", "--model-option", "nonsense")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1
    assert "KEY=VALUE" in errors[0] and "'nonsense'" in errors[0]
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize(
    ("option", "named"),
    [("foo=1", "foo"), ("basis_count=0", "basis_count"), ("lut_size=5", "--lut-size")],
)
def test_a_bad_model_option_is_one_line(tmp_path, pairs, invoke, option, named):
    output = tmp_path / "m.pt"
    args = ("--model", "first-linear", "--model-option", option)
    result = invoke("train", pairs, "-o", output, "--epochs", "1", *args, *FAST)
    assert_one_error_line(result, named)
    assert not output.exists()


def test_an_unknown_model_is_one_line_listing_the_models(tmp_path, pairs, invoke):
    result = invoke("train", pairs, "-o", tmp_path / "m.pt", "--model", "nope", *FAST)
    assert_one_error_line(result, "'nope'", *MODELS)


# Multi-scale (--scales) ------------------------------------------------------------------------


def test_scales_train_the_chosen_model_on_a_pyramid(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    result = invoke(
        "train", pairs, "-o", output, "--scales", "2,4", "--epochs", "1", "--lut-size", "5", "-q",
        "--crop-size", "32", "--batch-size", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and result.stderr == ""
    model, info = load_model(output)
    assert model.name == "basic" and model.lut_size == 5 and not model.adaptive
    assert model.config() == {"lut_size": 5} and model.scales == (2, 4)
    assert info["pairs"] == 3


def test_scales_keep_the_models_options(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    result = invoke(
        "train", pairs, "-o", output, "--model", "first-linear", "--lut-size", "5",
        "--model-option", "basis_count=2", "--scales", "4,2", "--epochs", "1", "-q",
        "--crop-size", "32", "--batch-size", "2",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    model, _ = load_model(output)
    assert model.name == "first-linear" and model.adaptive
    assert model.config() == {"lut_size": 5, "basis_count": 2, "features": 2}
    assert model.scales == (2, 4)


def test_multiscale_as_a_model_name_points_to_scales(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--model", "multiscale", *FAST)
    assert_one_error_line(result, "not a model of its own", "--scales 2,4,8")
    assert not output.exists()


def test_the_scales_help_tells_them_from_applys_scale(invoke):
    result = invoke("train", "--help")
    assert result.exit_code == 0
    # The option's help, its lines joined (click breaks "down-sampling" after the hyphen).
    text = " ".join(result.stdout.split()).replace("- ", "-")
    assert "--scales F,F,... Training pyramid: also train at these down-sampling factors" in text
    assert "(not apply's --scale, which resizes outputs)" in text


@pytest.mark.parametrize(
    ("scales", "named"),
    [("1", "from 2"), ("0,2", "from 2"), ("a,b", "integers"), ("2.5", "integers")],
)
def test_bad_scales_are_a_usage_error(tmp_path, pairs, invoke, scales, named):
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--scales", scales, "--epochs", "1", *FAST)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert "'--scales'" in errors[0] and named in errors[0] and repr(scales) in errors[0]
    assert not output.exists()


def test_a_scale_too_large_is_one_line(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--scales", "2,65", "--epochs", "1", *FAST)
    assert_one_error_line(result, "bad --scales", "2..64", "65")
    assert not output.exists()


# Outputs never replace what is not lutcli's ---------------------------------------------------


def test_an_image_is_never_an_output_even_with_overwrite(tmp_path, pairs, invoke):
    """`train PAIRS -o PAIRS/input/p0.png --overwrite` replaced the training photo with a model
    and left the report and the training state among the inputs."""
    before = snapshot(pairs)
    output = pairs / "input" / "p0.png"
    result = invoke("train", pairs, "-o", output, "--overwrite", "--epochs", "0", *FAST)
    assert_one_error_line(result, str(output), ".pt")
    assert snapshot(pairs) == before


@pytest.mark.parametrize("side", ["input", "target"])
def test_a_model_among_the_pictures_is_refused(tmp_path, pairs, invoke, side):
    """The report PNG beside it would become a picture of the next run."""
    before = snapshot(pairs)
    output = pairs / side / "look.pt"
    result = invoke("train", pairs, "-o", output, "--overwrite", "--epochs", "0", *FAST)
    assert_one_error_line(result, str(output), "among the pictures")
    assert snapshot(pairs) == before


def test_a_model_in_the_pairs_folder_itself_is_fine(pairs, invoke):
    result = invoke("train", pairs, "-o", pairs / "look.pt", "--epochs", "0", "-q", *FAST)
    assert result.exit_code == 0, result.output
    load_model(pairs / "look.pt")


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("m.pt", "not a lutcli model file"),
        ("m.training.pt", "not a lutcli training state"),
        ("m.report.png", "not a lutcli training report"),
    ],
)
def test_overwrite_replaces_only_lutcli_s_own_files(tmp_path, pairs, invoke, name, what):
    """A photo (or any other file) where the model, its state or its report would go is kept."""
    in_the_way = write_picture(tmp_path / "photo.png", noise(16, 16)).rename(tmp_path / name)
    before = in_the_way.read_bytes()
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--overwrite", "--epochs", "0", *FAST)
    assert_one_error_line(result, str(in_the_way), what)
    assert in_the_way.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["pairs", name])


def test_overwrite_replaces_a_previous_run_its_state_and_its_report(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    for _ in range(2):
        result = invoke("train", pairs, "-o", output, "--overwrite", "--epochs", "1", "-q", *FAST)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.pt", "m.report.png", "m.training.pt", "pairs"
    ]  # fmt: skip


# Pairs that cannot be read --------------------------------------------------------------------


@pytest.mark.parametrize("side", ["input", "target"])
def test_a_pair_that_cannot_be_read_is_named_and_left_out(tmp_path, pairs, invoke, side):
    """A corrupt target aborted the whole run; like a corrupt photo in `apply`, it is skipped."""
    (pairs / side / "p1.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--epochs", "1", *FAST)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "skipped" in line]
    assert len(warnings) == 1 and "'p1'" in warnings[0]
    assert str(pairs / side / "p1.png") in warnings[0]
    assert load_model(output)[1]["pairs"] == 2


def test_no_readable_pair_at_all_is_one_line(tmp_path, pairs, invoke):
    for path in (pairs / "target").iterdir():
        path.write_bytes(b"garbage")
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--epochs", "1", "-q", *FAST)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    *warnings, error = result.stderr.splitlines()
    assert [w.startswith("warning: skipped the pair") for w in warnings] == [True] * 3
    assert error == "Error: none of the 3 pairs could be read: nothing to learn from"
    assert not output.exists()


def test_a_model_option_too_large_to_allocate_is_one_line(tmp_path, pairs, invoke):
    """`--model-option basis_count=100000` printed torch's "cannot allocate" traceback."""
    output = tmp_path / "m.pt"
    args = ("--model", "first-linear", "--model-option", "basis_count=100000")
    result = invoke("train", pairs, "-o", output, "--epochs", "1", *args, "--lut-size", "129")
    assert_one_error_line(result, "basis_count must be an integer in 1..256")
    assert not output.exists()


def test_a_model_over_the_size_limit_is_one_line_saying_how_to_raise_it(tmp_path, pairs, invoke):
    output = tmp_path / "m.pt"
    args = ("--model", "first-linear", "--model-option", "basis_count=200", "--lut-size", "129")
    result = invoke("train", pairs, "-o", output, "--epochs", "1", *args)
    assert_one_error_line(result, "more than the limit", "LUTCLI_MAX_MODEL_PARAMETERS")
    assert not output.exists()


def test_training_onto_a_full_disk_is_one_line_and_keeps_the_previous_model(
    tmp_path, pairs, invoke, monkeypatch
):
    """It was torch's "inline_container.cc ... unexpected pos" traceback."""
    output = tmp_path / "m.pt"
    save_warm_model(output, 9)
    before = output.read_bytes()
    fill_the_disk(monkeypatch, room=1000)
    result = invoke("train", pairs, "-o", output, "--overwrite", "--epochs", "1", "-q", *FAST)
    assert_one_error_line(result, f"cannot write '{output}': no space left on device")
    assert output.read_bytes() == before
    assert not temp_files(tmp_path)


@pytest.mark.parametrize("resolution", ["0", "big", "-480"])
def test_a_bad_resolution_is_a_usage_error(tmp_path, pairs, invoke, resolution):
    output = tmp_path / "m.pt"
    result = invoke("train", pairs, "-o", output, "--resolution", resolution, *FAST)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1, result.stderr
    assert "'--resolution'" in errors[0] and "'full'" in errors[0]
    assert not output.exists()


@pytest.mark.parametrize(("resolution", "side"), [("full", 48), ("24", 24)])
def test_the_training_resolution_is_what_the_model_trains_on(
    tmp_path, pairs, invoke, resolution, side
):
    output, cache = tmp_path / "m.pt", tmp_path / "cache"
    arguments = ("--resolution", resolution, "--cache", cache, "--epochs", "1", "-q")
    result = invoke("train", pairs, "-o", output, *arguments, *FAST)
    assert result.exit_code == 0, result.output
    stored = [np.load(path, mmap_mode="r") for path in (cache / "training").glob("*[0-9a-f].npy")]
    assert len(stored) == 3
    assert {array.shape for array in stored} == {(2, side, side, 3)}
    assert load_model(output)[1]["training_options"]["resolution"] == (
        None if resolution == "full" else side
    )
