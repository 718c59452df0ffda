"""Training a zoo model from a folder of pairs: the library call behind ``lutcli train``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from lutcli.errors import LutcliError
from lutcli.models.registry import create_model
from lutcli.training.data import PictureSample, find_pairs, load_pair
from lutcli.training.options import TrainingOptions
from lutcli.training.trainer import (
    Trainer,
    TrainingResult,
    TrainingStatus,
    resolve_device,
    split_samples,
    state_path_for,
)

# Photos larger than this are shrunk for training: a look is about colors, not detail, and
# 30 photos of 24 MP would not fit in memory as float tensors.
MAX_TRAINING_PIXELS = 4_000_000


def train_from_folder(
    pairs_folder: str | os.PathLike,
    output: str | os.PathLike,
    model_name: str = "basic",
    lut_size: int = 33,
    options: TrainingOptions | None = None,
    device: str = "auto",
    resume: bool = False,
    overwrite: bool = False,
    on_status: Callable[[TrainingStatus], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
    on_loaded: Callable[[int, int], None] = lambda done, total: None,
) -> TrainingResult:
    """Learn ``model_name`` from ``pairs_folder/input`` → ``pairs_folder/target`` into ``output``.

    The best model by validation PSNR is written to ``output``; the resumable state beside it.
    """
    options = options or TrainingOptions()
    output = Path(output)
    if output.exists() and not (resume or overwrite):
        raise LutcliError(f"'{output}' exists; use --overwrite to replace it or --resume")
    if not output.parent.is_dir():
        raise LutcliError(f"no folder for the model at '{output.parent}'")
    pairs = find_pairs(pairs_folder)
    samples: list[PictureSample] = []
    for pair in pairs:
        samples.append(load_pair(pair, MAX_TRAINING_PIXELS, warn))
        on_loaded(len(samples), len(pairs))
    train, validation = split_samples(samples, options.validation_fraction, options.seed)
    if len(samples) == 1:
        warn("only one pair: it is used for training and validation alike")
    torch.manual_seed(options.seed)  # models with random initial weights start alike
    model = create_model(model_name, lut_size=lut_size)
    info = {"pairs": len(samples), "validation_pairs": [s.name for s in validation]}
    trainer = Trainer(model, train, validation, output, options, resolve_device(device), info)
    if resume:
        trainer.resume()
    elif state_path_for(output).exists():
        state_path_for(output).unlink()
    return trainer.run(on_status)
