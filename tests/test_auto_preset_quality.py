"""The `auto` preset on real photos: mis-exposed, off-balance copies of photos it never saw come
out of `lutcli apply --requirement auto` closer to the photos as they were than they went in,
and closer than through the best single fixed LUT learned from the same training photos. And
the single LUT distilled from it: how close a .cube of an adaptive look gets to the look.

``pytest -s`` shows the figures.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lutcli.cli.main import cli
from lutcli.distillation.distill import distill_folder
from lutcli.distillation.ground_truth import GroundTruth
from lutcli.distillation.teachers import parse_teacher
from lutcli.io.images import read_image
from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import load_model
from lutcli.presets import find_preset
from lutcli.samples import write_adaptive_job
from lutcli.training.evaluation import evaluate
from lutcli.training.folder import train_from_folder
from lutcli.training.options import TrainingOptions

pytestmark = pytest.mark.slow

# How much closer than each alternative `auto` must bring the photos, in dB of PSNR.
MARGIN_DB = 1.0


def psnr(a: Path, b: Path) -> float:
    error = np.mean((read_image(a).pixels / 255.0 - read_image(b).pixels / 255.0) ** 2)
    return float(-10 * np.log10(error))


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The restoration job: (training pairs, unseen pairs), targets the photos as they were."""
    return write_adaptive_job(tmp_path_factory.mktemp("job"), correction="original")


def test_auto_brings_photos_back_closer_than_leaving_them_and_than_any_fixed_lut(job, tmp_path):
    train, unseen = job
    result = CliRunner().invoke(
        cli, ["apply", str(unseen / "input"), str(tmp_path / "auto"), "--requirement", "auto", "-q"]
    )
    assert result.exit_code == 0, result.output
    targets = sorted((unseen / "target").iterdir())
    auto = np.mean([psnr(tmp_path / "auto" / t.name, t) for t in targets])
    left_alone = np.mean(list(evaluate(BasicLookupModel(2), unseen).values()))
    fixed = tmp_path / "fixed.pt"
    train_from_folder(train, fixed, "basic", options=TrainingOptions(epochs=1))
    best_fixed_lut = np.mean(list(evaluate(load_model(fixed)[0], unseen).values()))
    print(
        f"\n  PSNR against the photos as they were: auto {auto:.2f} dB, left alone "
        f"{left_alone:.2f} dB, best fixed LUT {best_fixed_lut:.2f} dB"
    )
    assert auto >= left_alone + MARGIN_DB
    assert auto >= best_fixed_lut + MARGIN_DB


def test_a_basic_student_of_auto_is_the_single_lut_closest_to_it(job, tmp_path):
    """Distilling the adaptive preset into one LUT: how close a single .cube gets to it."""
    train, unseen = job
    teacher = parse_teacher(str(find_preset("auto").path))
    student = tmp_path / "student.pt"
    photos = tmp_path / "photos"  # unlabeled: every eighth training input
    photos.mkdir()
    for source in sorted((train / "input").iterdir())[::8]:
        shutil.copyfile(source, photos / source.name)
    options = TrainingOptions(epochs=1)  # the exact warm start is the best single LUT
    cache = tmp_path / "cache"
    distill_folder(teacher, photos, student, cache_root=cache, options=options)
    # The teacher's outputs (16-bit) on the unseen photos are the targets to compare with.
    pairs = tmp_path / "teacher-pairs"
    shutil.copytree(unseen / "input", pairs / "input")
    (pairs / "target").mkdir()
    outputs = GroundTruth(teacher, cache)
    for source in sorted((pairs / "input").iterdir()):
        shutil.copyfile(outputs.target_for(source)[0], pairs / "target" / source.name)
    against_teacher = np.mean(list(evaluate(load_model(student)[0], pairs).values()))
    left_alone = np.mean(list(evaluate(BasicLookupModel(2), pairs).values()))
    print(
        f"\n  PSNR against the auto preset's output: basic student {against_teacher:.2f} dB, "
        f"inputs left alone {left_alone:.2f} dB"
    )
    assert against_teacher >= left_alone + MARGIN_DB
