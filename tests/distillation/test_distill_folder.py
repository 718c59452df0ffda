"""Distilling a teacher into a zoo model: accuracy, the probe, the cache, and what happens when
the teacher fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from clip_support import pan, write_clip
from lutcli.distillation.distill import BROKEN_AFTER, PROBE_NAME, distill_folder
from lutcli.distillation.teachers import Teacher, TeacherError, parse_teacher
from lutcli.errors import DatasetError
from lutcli.io.images import read_image
from lutcli.io.pixels import to_tensor
from lutcli.models.files import load_model
from lutcli.training.options import TrainingOptions
from teacher_support import (
    FAIL,
    FAIL_ON_BAD,
    noise,
    script_teacher,
    write_look_cube,
    write_picture,
)

FAST = {"lut_size": 5, "options": TrainingOptions(epochs=1)}
# For runs with the probe whose model does not matter: the exact fit of its 512² colors and
# epochs over them take seconds.
UNTRAINED = TrainingOptions(epochs=0, warm_start=False)


def psnr(output: torch.Tensor, target: torch.Tensor) -> float:
    error = (output.clamp(0, 1) - target).pow(2).mean().item()
    return float("inf") if error == 0 else 10 * np.log10(1 / error)


def write_photos(folder: Path, names: list[str], low=(0, 0, 0), high=(255, 255, 255)) -> Path:
    """Small noise pictures named ``names``, each channel within low..high."""
    for seed, name in enumerate(names):
        pixels = noise(16, 24, seed=seed)
        span = np.array(high) - np.array(low) + 1
        pixels = (np.array(low) + pixels % span).astype(np.uint8)
        write_picture(folder / name, pixels)
    return folder


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    return write_photos(tmp_path / "photos", ["a.png", "b.png", "c.png"])


@pytest.fixture
def cube_teacher(tmp_path: Path) -> Teacher:
    path = tmp_path / "look.cube"
    write_look_cube(path, size=9)
    return parse_teacher(str(path))


class CountingTeacher(Teacher):
    """The cube teacher's look in-process, failing on pictures whose name holds "bad"."""

    kind = "test"

    def __init__(self, inner: Teacher) -> None:
        super().__init__("counting", "counting")
        self.inner = inner
        self.runs: list[str] = []

    def teach(self, source: Path) -> np.ndarray:
        self.runs.append(source.name)
        if "bad" in source.name:
            raise TeacherError(f"the teacher cannot handle '{source}'")
        return self.inner.teach(source)


# What the student learns ------------------------------------------------------------------------


def test_the_distilled_model_reproduces_the_teacher_on_the_pictures(tmp_path, photos, cube_teacher):
    output = tmp_path / "student.pt"
    distillation = distill_folder(
        cube_teacher, photos, output, cache_root=tmp_path / "cache",
        lut_size=9, options=TrainingOptions(epochs=2),
    )  # fmt: skip
    assert (distillation.pictures, distillation.from_cache, distillation.failed) == (3, 0, [])
    assert distillation.training.epochs_run >= 1
    model, _ = load_model(output)
    assert model.name == "basic" and model.lut_size == 9
    for name in ("a.png", "b.png", "c.png"):
        source = to_tensor(read_image(photos / name).pixels)
        target = to_tensor(cube_teacher.teach(photos / name))
        with torch.no_grad():
            assert psnr(model(source), target) > 35, name
        assert psnr(source, target) < 25  # the look is far from the photo as it is


def test_a_second_run_takes_every_picture_from_the_cache(tmp_path, photos, cube_teacher):
    first = distill_folder(
        cube_teacher, photos, tmp_path / "m.pt", cache_root=tmp_path / "c", **FAST
    )
    second = distill_folder(
        cube_teacher, photos, tmp_path / "m.pt", cache_root=tmp_path / "c", overwrite=True, **FAST
    )
    assert (first.pictures, first.from_cache) == (3, 0)
    assert (second.pictures, second.from_cache, second.failed) == (3, 3, [])


def test_the_model_file_records_the_teacher_and_the_probe(tmp_path, photos, cube_teacher):
    output = tmp_path / "m.pt"
    distill_folder(cube_teacher, photos, output, cache_root=tmp_path / "cache", **FAST)
    _, info = load_model(output)
    assert info["teacher"] == cube_teacher.spec and info["probe"] is False
    assert info["pairs"] == 3


def test_progress_counts_the_pictures_and_the_probe(tmp_path, photos, cube_teacher):
    taught = []
    distill_folder(
        cube_teacher, photos, tmp_path / "m.pt", probe=True, cache_root=tmp_path / "cache",
        on_taught=lambda done, total: taught.append((done, total)),
        lut_size=5, options=UNTRAINED,
    )  # fmt: skip
    assert taught == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_subfolders_are_taught_only_when_recursive(tmp_path, photos, cube_teacher):
    write_photos(photos / "more", ["d.png"])
    flat = distill_folder(
        cube_teacher, photos, tmp_path / "a.pt", cache_root=tmp_path / "c", **FAST
    )
    deep = distill_folder(
        cube_teacher, photos, tmp_path / "b.pt", cache_root=tmp_path / "c", recursive=True, **FAST
    )
    assert (flat.pictures, deep.pictures) == (3, 4)
    assert load_model(tmp_path / "b.pt")[1]["pairs"] == 4


# The probe --------------------------------------------------------------------------------------


@pytest.fixture
def reddish(tmp_path: Path) -> Path:
    """Two photos of reds only: no blue above 80 anywhere. (With the probe that makes three
    pictures, of which the default seed holds out the last for validation: the probe must not
    be that one.)"""
    names = ["r0.png", "r1.png"]
    return write_photos(tmp_path / "reddish", names, low=(150, 0, 0), high=(255, 80, 80))


BLUES = torch.tensor([[30, 60, 230], [0, 0, 255], [120, 140, 200]]).T.reshape(1, 3, 1, 3) / 255


def blue_error(model_path: Path, teacher: Teacher) -> float:
    """The model's largest difference from the teacher on blues, in 8-bit levels."""
    model, _ = load_model(model_path)
    with torch.no_grad():
        return (model(BLUES) - teacher.map(BLUES)).abs().max().item() * 255


@pytest.fixture
def small_cube_teacher(tmp_path: Path) -> Teacher:
    """A 5³ look: a 5³ model can hold it exactly, so only the colors seen limit the student."""
    path = tmp_path / "small.cube"
    write_look_cube(path, size=5)
    return parse_teacher(str(path))


def test_without_the_probe_colors_absent_from_the_photos_are_not_learned(
    tmp_path, reddish, small_cube_teacher
):
    output = tmp_path / "m.pt"
    distillation = distill_folder(
        small_cube_teacher, reddish, output, cache_root=tmp_path / "cache", **FAST
    )
    assert distillation.pictures == 2
    assert blue_error(output, small_cube_teacher) > 20


def test_with_the_probe_the_model_learns_colors_absent_from_the_photos(
    tmp_path, reddish, small_cube_teacher
):
    output = tmp_path / "m.pt"
    # The exact fit on a sample of the probe's colors is as exact here, and much faster.
    options = TrainingOptions(epochs=1, warm_start_pixels=20_000)
    distillation = distill_folder(
        small_cube_teacher, reddish, output, probe=True, cache_root=tmp_path / "cache",
        lut_size=5, options=options,
    )  # fmt: skip
    assert (distillation.pictures, distillation.from_cache, distillation.failed) == (3, 0, [])
    assert blue_error(output, small_cube_teacher) < 2
    _, info = load_model(output)
    assert info["probe"] is True and info["pairs"] == 3
    assert PROBE_NAME not in info["validation_pairs"]  # it is learned from, not held out
    assert any((tmp_path / "cache").glob("probe-*.png"))


# When the teacher fails -------------------------------------------------------------------------


def test_a_picture_the_teacher_fails_on_is_skipped_with_a_warning(tmp_path, cube_teacher):
    folder = write_photos(tmp_path / "photos", ["a.png", "bad.png", "c.png"])
    teacher, warnings = CountingTeacher(cube_teacher), []
    output = tmp_path / "m.pt"
    distillation = distill_folder(
        teacher, folder, output, cache_root=tmp_path / "cache", warn=warnings.append, **FAST
    )
    assert distillation.failed == ["bad.png"] and distillation.pictures == 3
    assert teacher.runs == ["a.png", "bad.png", "c.png"]
    assert warnings[0] == f"skipped: the teacher cannot handle '{folder / 'bad.png'}'"
    assert load_model(output)[1]["pairs"] == 2


def test_a_failing_command_is_skipped_and_training_goes_on(tmp_path):
    folder = write_photos(tmp_path / "photos", ["a.png", "bad.png", "c.png"])
    script = script_teacher(tmp_path / "teacher", FAIL_ON_BAD)
    warnings: list[str] = []
    output = tmp_path / "m.pt"
    distillation = distill_folder(
        parse_teacher(script.spec), folder, output, cache_root=tmp_path / "cache",
        warn=warnings.append, **FAST,
    )  # fmt: skip
    assert distillation.failed == ["bad.png"]
    skipped = [w for w in warnings if w.startswith("skipped:")]
    assert len(skipped) == 1
    assert "bad.png" in skipped[0] and "exit 1" in skipped[0]
    assert skipped[0].endswith("teacher: cannot handle bad.png")
    assert output.is_file()


def test_a_teacher_that_fails_on_the_first_pictures_stops_the_run(tmp_path):
    names = [f"p{index}.png" for index in range(BROKEN_AFTER + 3)]
    folder = write_photos(tmp_path / "photos", names)
    script = script_teacher(tmp_path / "teacher", FAIL)
    output = tmp_path / "m.pt"
    with pytest.raises(TeacherError) as caught:
        distill_folder(
            parse_teacher(script.spec), folder, output, cache_root=tmp_path / "c", **FAST
        )
    message = str(caught.value)
    assert message.startswith(f"the teacher failed on the first {BROKEN_AFTER} pictures; the last:")
    assert f"p{BROKEN_AFTER - 1}.png" in message and "cursed" in message
    assert len(script.calls) == BROKEN_AFTER
    assert not output.exists()


def test_failures_after_a_success_do_not_stop_the_run(tmp_path, cube_teacher):
    names = ["a.png"] + [f"bad{index}.png" for index in range(BROKEN_AFTER + 1)]
    folder = write_photos(tmp_path / "photos", names)
    teacher, warnings = CountingTeacher(cube_teacher), []
    distillation = distill_folder(
        teacher, folder, tmp_path / "m.pt", cache_root=tmp_path / "c", warn=warnings.append, **FAST
    )
    assert len(distillation.failed) == BROKEN_AFTER + 1 == len(teacher.runs) - 1
    assert sum(w.startswith("skipped:") for w in warnings) == BROKEN_AFTER + 1


def test_a_teacher_that_fails_on_every_picture_is_an_error(tmp_path, cube_teacher):
    count = BROKEN_AFTER - 1  # too few to stop early: all of them are tried
    folder = write_photos(tmp_path / "photos", [f"bad{index}.png" for index in range(count)])
    output = tmp_path / "m.pt"
    with pytest.raises(TeacherError, match=rf"failed on every picture \({count}\): nothing to"):
        distill_folder(CountingTeacher(cube_teacher), folder, output, cache_root=tmp_path / "c")
    assert not output.exists()


def test_a_picture_that_cannot_be_read_is_skipped_without_running_the_teacher(
    tmp_path, photos, cube_teacher
):
    (photos / "b.png").write_bytes(b"not a picture")
    teacher, warnings = CountingTeacher(cube_teacher), []
    distillation = distill_folder(
        teacher, photos, tmp_path / "m.pt", cache_root=tmp_path / "c", warn=warnings.append, **FAST
    )
    assert distillation.failed == ["b.png"] and teacher.runs == ["a.png", "c.png"]
    assert warnings[0].startswith(f"skipped: cannot read '{photos / 'b.png'}'")


def test_when_only_the_probe_is_taught_the_model_learns_from_it(tmp_path, cube_teacher):
    folder = write_photos(tmp_path / "photos", ["bad.png"])
    warnings: list[str] = []
    distillation = distill_folder(
        CountingTeacher(cube_teacher), folder, tmp_path / "m.pt", probe=True,
        cache_root=tmp_path / "c", warn=warnings.append, lut_size=5, options=UNTRAINED,
    )  # fmt: skip
    assert (distillation.pictures, distillation.failed) == (2, ["bad.png"])
    assert warnings[0].startswith("skipped:") and "bad.png" in warnings[0]
    _, info = load_model(tmp_path / "m.pt")
    assert info["pairs"] == 1 and info["validation_pairs"] == [PROBE_NAME]


def test_a_missing_folder_is_a_dataset_error(tmp_path, cube_teacher):
    with pytest.raises(DatasetError, match="no folder at"):
        distill_folder(cube_teacher, tmp_path / "nope", tmp_path / "m.pt", cache_root=tmp_path)


def test_a_folder_without_pictures_is_a_dataset_error(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.txt").write_text("no pictures here")
    teacher = CountingTeacher(parse_teacher("cmd:x {input} {output}"))
    with pytest.raises(DatasetError, match="no images or clips in"):
        distill_folder(teacher, folder, tmp_path / "m.pt", cache_root=tmp_path / "cache")
    assert teacher.runs == [] and not (tmp_path / "cache").exists()


def test_a_clip_teaches_through_its_frames(tmp_path, cube_teacher):

    folder = tmp_path / "clips"
    write_clip(folder / "pan.mp4", pan(data.astronaut(), 30), audio=False)
    write_photos(folder, ["still.png"])
    distillation = distill_folder(
        cube_teacher, folder, tmp_path / "look.pt", cache_root=tmp_path / "cache", frames=4,
        **FAST,
    )  # fmt: skip
    assert distillation.pictures == 5 and distillation.failed == []
    assert load_model(tmp_path / "look.pt")[1]["teacher"] == cube_teacher.spec
