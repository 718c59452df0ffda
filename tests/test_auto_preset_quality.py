"""The `auto` preset on real photos: mis-exposed, off-balance copies of photos it never saw come
out of `lutcli apply --requirement auto` closer to the photos as they were than they went in,
and closer than through the best single fixed LUT learned from the same training photos.

``pytest -s`` shows the figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lutcli.cli.main import cli
from lutcli.io.images import read_image
from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import load_model
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


def test_auto_brings_photos_back_closer_than_leaving_them_and_than_any_fixed_lut(tmp_path):
    train, unseen = write_adaptive_job(tmp_path, correction="original")
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
