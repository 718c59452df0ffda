"""The adaptive bar, on real photos: when the right correction depends on each photo (ffmpeg's
automatic white balance of mis-colored copies), an image-adaptive model beats the best single
LUT on photos training never saw by at least 3 dB.

``pytest -s`` shows the figures. The full table for every zoo model is in the README.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lutcli.io.images import read_image
from lutcli.models.files import load_model
from lutcli.processing import Job, model_look, process_image
from lutcli.samples import sample_photos, write_adaptive_pairs
from lutcli.training.folder import train_from_folder
from lutcli.training.options import TrainingOptions

pytestmark = pytest.mark.slow

UNSEEN = ("china", "coffee", "motorcycle")
ADAPTIVE_BAR_DB = 3.0


def unseen_psnr(model_path: Path, unseen: Path, out: Path) -> float:
    """Mean PSNR (dB) over the unseen pairs of the model's 8-bit outputs against the targets."""
    model, _ = load_model(model_path)
    look = model_look(model, "trilinear", torch.device("cpu"))
    scores = []
    for source in sorted((unseen / "input").iterdir()):
        job = Job(source, out / source.name)
        process_image(look, job)
        output = read_image(job.destination).pixels.astype(np.float64)
        target = read_image(unseen / "target" / source.name).pixels.astype(np.float64)
        scores.append(10 * np.log10(255**2 / np.mean((output - target) ** 2)))
    return float(np.mean(scores))


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("adaptive")
    photos = sample_photos()
    seen = {k: v for k, v in photos.items() if k not in UNSEEN}
    write_adaptive_pairs(root / "train", seen, variants=128, seed=1, max_side=128)
    write_adaptive_pairs(root / "unseen", {k: photos[k] for k in UNSEEN}, 4, 2, max_side=192)
    return root


def test_an_adaptive_model_beats_the_best_fixed_lut_on_unseen_photos(job: Path) -> None:
    scores, seconds = {}, {}
    for name, epochs in (("basic", 3), ("first-linear", 100)):
        started = time.perf_counter()
        options = TrainingOptions(epochs=epochs, patience=epochs)
        train_from_folder(job / "train", job / f"{name}.pt", name, options=options)
        seconds[name] = time.perf_counter() - started
        scores[name] = unseen_psnr(job / f"{name}.pt", job / "unseen", job / f"out-{name}")
    print(f"\nunseen PSNR: {scores} (training seconds: {seconds})")
    assert scores["first-linear"] >= scores["basic"] + ADAPTIVE_BAR_DB
