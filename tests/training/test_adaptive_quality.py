"""The adaptive bar, on real photos: when the right correction depends on each photo (ffmpeg's
automatic white balance of mis-colored copies), an image-adaptive model beats the best single
LUT on photos training never saw by at least 3 dB.

``pytest -s`` shows the figures. The table for every zoo model comes from
``bench/adaptive_zoo.py`` and is in the README.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from lutcli.models.files import load_model
from lutcli.samples import write_adaptive_job
from lutcli.training.evaluation import evaluate
from lutcli.training.folder import train_from_folder
from lutcli.training.options import TrainingOptions

pytestmark = pytest.mark.slow

ADAPTIVE_BAR_DB = 3.0


def test_an_adaptive_model_beats_the_best_fixed_lut_on_unseen_photos(tmp_path: Path) -> None:
    train, unseen = write_adaptive_job(tmp_path)
    scores, seconds = {}, {}
    for name, epochs in (("basic", 1), ("first-linear", 20)):
        started = time.perf_counter()
        options = TrainingOptions(epochs=epochs)
        train_from_folder(train, tmp_path / f"{name}.pt", name, options=options)
        seconds[name] = time.perf_counter() - started
        model, _ = load_model(tmp_path / f"{name}.pt")
        scores[name] = float(np.mean(list(evaluate(model, unseen).values())))
    print(f"\nunseen PSNR: {scores} (training seconds: {seconds})")
    assert scores["first-linear"] >= scores["basic"] + ADAPTIVE_BAR_DB
