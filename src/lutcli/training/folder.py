"""Training a zoo model from a folder of pairs: the library call behind ``lutcli train``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lutcli.errors import LutcliError
from lutcli.io.images import from_tensor
from lutcli.models.files import load_model
from lutcli.models.registry import create_model
from lutcli.training.data import Pair, PictureSample, find_pairs, load_pair
from lutcli.training.options import TrainingOptions
from lutcli.training.report import write_report
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
    pairs_folder: str | os.PathLike, output: str | os.PathLike, *args: Any, **kwargs: Any
) -> TrainingResult:
    """Learn a zoo model from ``pairs_folder/input`` → ``pairs_folder/target`` into ``output``;
    the rest of the arguments are those of ``train_from_pairs``."""
    return train_from_pairs(find_pairs(pairs_folder), output, *args, **kwargs)


def train_from_pairs(
    pairs: list[Pair],
    output: str | os.PathLike,
    model_name: str = "basic",
    lut_size: int = 33,
    model_options: dict[str, Any] | None = None,
    options: TrainingOptions | None = None,
    device: str = "auto",
    resume: bool = False,
    overwrite: bool = False,
    on_status: Callable[[TrainingStatus], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
    on_loaded: Callable[[int, int], None] = lambda done, total: None,
    info: dict[str, Any] | None = None,
    train_only: list[Pair] | None = None,
) -> TrainingResult:
    """Learn ``model_name`` from input/target ``pairs`` into ``output``.

    ``model_options`` are the zoo model's own settings (``lutcli models`` lists them); ``info``
    goes into the model file beside how it was trained. ``train_only`` pairs are always trained
    on, never held out for validation. The best model by validation PSNR is written to
    ``output``, the resumable state and a PNG report (curves and validation photos) beside it.
    """
    options = options or TrainingOptions()
    model_options = dict(model_options or {})
    if "lut_size" in model_options:
        raise LutcliError("lut_size is not a model option: set it with --lut-size")
    output = check_model_output(output, resume, overwrite)
    every_pair = [*pairs, *(train_only or [])]
    samples: list[PictureSample] = []
    for pair in every_pair:
        samples.append(load_pair(pair, MAX_TRAINING_PIXELS, warn))
        on_loaded(len(samples), len(every_pair))
    train, validation = split_samples(
        samples[: len(pairs)], options.validation_fraction, options.seed
    )
    train = train + samples[len(pairs) :]
    if len(pairs) == 1:
        warn("only one pair: it is used for training and validation alike")
    torch.manual_seed(options.seed)  # models with random initial weights start alike
    if options.scales:
        wrapped = {"model": model_name, "model_config": model_options}
        model_name, model_options = "multiscale", {**wrapped, "scales": options.scales}
    model = create_model(model_name, lut_size=lut_size, **model_options)
    info = {**(info or {}), "pairs": len(samples), "validation_pairs": [s.name for s in validation]}
    trainer = Trainer(model, train, validation, output, options, resolve_device(device), info)
    if resume:
        trainer.resume()
    elif state_path_for(output).exists():
        state_path_for(output).unlink()
    result = trainer.run(on_status)
    result.report = report_path_for(output)
    write_training_report(result.report, output, result, validation)
    return result


def check_model_output(output: str | os.PathLike, resume: bool, overwrite: bool) -> Path:
    """``output`` as a Path, once it is sure training may write there: LutcliError for an
    existing model (without ``resume`` or ``overwrite``) or a missing folder."""
    output = Path(output)
    if output.exists() and not (resume or overwrite):
        raise LutcliError(f"'{output}' exists; use --overwrite to replace it or --resume")
    if not output.parent.is_dir():
        raise LutcliError(f"no folder for the model at '{output.parent}'")
    return output


def report_path_for(model_path: Path) -> Path:
    """Where the training report of ``model_path`` goes: look.pt → look.report.png."""
    return model_path.with_name(model_path.stem + ".report.png")


@torch.no_grad()
def write_training_report(
    path: Path, model_path: Path, result: TrainingResult, validation: list[PictureSample]
) -> None:
    """Curves of the run and the best model's output on (up to six) validation photos."""
    model, _ = load_model(model_path)
    rows = []
    for sample in validation[:6]:
        output = model(sample.input[None], context=sample.context[None])
        pictures = (from_tensor(t, np.uint8) for t in (sample.input, output, sample.target))
        rows.append((sample.name, *pictures))
    title = f"{model_path.name} · {model.name}"
    write_report(path, result.history, rows, title)
