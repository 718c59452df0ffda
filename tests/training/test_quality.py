"""The product bar, on real photos: a look made by a real tool (ffmpeg's color filters) is
learned from seven before/after pairs and reproduced on three photos training never saw.

``pytest -s`` shows the per-photo PSNR and the training time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lutcli.io.images import read_image
from lutcli.looks import ModelLook
from lutcli.models.files import load_model
from lutcli.processing import Job, process_image
from lutcli.samples import UNSEEN_PHOTOS, split_photos, write_pairs
from lutcli.training.folder import train_from_folder
from lutcli.training.trainer import TrainingResult
from quality_support import LATTICE_LIMIT_DB, PRODUCT_BAR_DB

pytestmark = pytest.mark.slow


def psnr_8bit(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@dataclass
class Learned:
    result: TrainingResult
    seconds: float
    unseen: Path  # unseen/input/NAME.png and unseen/target/NAME.png (ffmpeg's look)
    graded: Path  # graded/NAME.png: the unseen inputs through the learned model, 8-bit


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> Learned:
    root = tmp_path_factory.mktemp("quality")
    seen, unseen = split_photos()
    write_pairs(root / "pairs", seen)
    write_pairs(root / "unseen", unseen)
    started = time.perf_counter()
    result = train_from_folder(root / "pairs", root / "look.pt")  # every option its default
    seconds = time.perf_counter() - started
    model, _ = load_model(root / "look.pt")
    look = ModelLook(model, "trilinear")
    for name in UNSEEN_PHOTOS:
        job = Job(root / "unseen/input" / f"{name}.png", root / "graded" / f"{name}.png")
        process_image(look, job)  # as `lutcli apply` does: an 8-bit PNG comes out
    return Learned(result, seconds, root / "unseen", root / "graded")


def test_the_learned_look_matches_ffmpeg_on_photos_training_never_saw(learned, record_property):
    scores = {}
    for name in UNSEEN_PHOTOS:
        graded = read_image(learned.graded / f"{name}.png").pixels
        target = read_image(learned.unseen / "target" / f"{name}.png").pixels
        untouched = read_image(learned.unseen / "input" / f"{name}.png").pixels
        scores[name] = psnr_8bit(graded, target)
        baseline = psnr_8bit(untouched, target)
        print(f"\n  {name:<12} {scores[name]:5.2f} dB PSNR (the input as it is: {baseline:.2f} dB)")
        record_property(f"psnr_{name}", round(float(scores[name]), 2))
        # The look is a strong one: leaving the photo alone is far from it.
        assert baseline < 30
    assert all(score >= LATTICE_LIMIT_DB for score in scores.values()), scores


def test_training_on_real_photos_reports_its_validation_score_and_time(learned, record_property):
    result = learned.result
    print(
        f"\n  training: {learned.seconds:.1f} s, {result.epochs_run} epochs, best validation "
        f"PSNR {result.best_psnr:.2f} dB at epoch {result.best_epoch}"
        + (" (stopped early)" if result.stopped_early else "")
    )
    record_property("training_seconds", round(learned.seconds, 1))
    assert result.best_psnr >= PRODUCT_BAR_DB
    assert result.history[0]["epoch"] == 0
