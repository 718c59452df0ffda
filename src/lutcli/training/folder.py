"""Training a zoo model from a folder of pairs: the library call behind ``lutcli train``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lutcli.errors import DatasetError, ImageReadError, LutcliError
from lutcli.io.images import from_tensor
from lutcli.models.files import FORMAT, load_model, load_payload
from lutcli.models.registry import create_model
from lutcli.training.data import Pair, PictureSample, find_pairs, load_pair
from lutcli.training.options import TrainingOptions
from lutcli.training.report import write_report
from lutcli.training.trainer import (
    STATE_FORMAT,
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
# What a model file's name ends in.
MODEL_SUFFIX = ".pt"
# A training report is a PNG drawn by Matplotlib, which names itself in a text chunk up front.
_REPORT_START = b"\x89PNG\r\n\x1a\n"
_REPORT_SOFTWARE = b"tEXtSoftware\x00Matplotlib"


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
    A pair that cannot be read is named through ``warn`` and left out.
    """
    options = options or TrainingOptions()
    model_options = dict(model_options or {})
    if "lut_size" in model_options:
        raise LutcliError("lut_size is not a model option: set it with --lut-size")
    every_pair = [*pairs, *(train_only or [])]
    pictures = {path.parent for pair in every_pair for path in (pair.input_path, pair.target_path)}
    output = check_model_output(output, resume, overwrite, pictures)
    photos = load_pairs(pairs, warn, lambda done: on_loaded(done, len(every_pair)))
    extra = load_pairs(
        train_only or [], warn, lambda done: on_loaded(len(pairs) + done, len(every_pair))
    )
    if not photos and not extra:
        raise DatasetError(
            f"none of the {len(every_pair)} pairs could be read: nothing to learn from"
        )
    if not photos:  # only pairs meant for training alone are left: they are all there is
        photos, extra = extra, []
    samples = photos + extra
    train, validation = split_samples(photos, options.validation_fraction, options.seed)
    train = train + extra
    if len(photos) == 1:
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


def load_pairs(
    pairs: list[Pair], warn: Callable[[str], None], on_loaded: Callable[[int], None]
) -> list[PictureSample]:
    """The pairs that can be read, in order; each one that cannot is named through ``warn``."""
    samples = []
    for done, pair in enumerate(pairs, start=1):
        try:
            samples.append(load_pair(pair, MAX_TRAINING_PIXELS, warn))
        except ImageReadError as error:
            warn(f"skipped the pair '{pair.name}': {error}")
        except MemoryError:
            warn(f"skipped the pair '{pair.name}': not enough memory to load it")
        on_loaded(done)
    return samples


def check_model_output(
    output: str | os.PathLike, resume: bool, overwrite: bool, pictures: Iterable[Path] = ()
) -> Path:
    """``output`` as a Path, once it is sure training may write the model there and its state
    and report beside it; LutcliError (one line) otherwise.

    Refused: a name without MODEL_SUFFIX, a missing folder, a place in one of the folders of
    ``pictures`` (the report would become a picture of the next run), an existing model without
    ``resume`` or ``overwrite``, and any file in the way that lutcli did not write: ``overwrite``
    replaces lutcli's own model, state and report, never a photo or another program's file.
    """
    output = Path(output)
    if output.suffix.lower() != MODEL_SUFFIX:
        raise LutcliError(f"'{output}': a model file's name ends in {MODEL_SUFFIX}")
    if not output.parent.is_dir():
        raise LutcliError(f"no folder for the model at '{output.parent}'")
    where = output.parent.resolve()
    for folder in {Path(folder).resolve() for folder in pictures}:
        if where == folder or folder in where.parents:
            raise LutcliError(
                f"'{output}' is in '{folder}', among the pictures training reads: "
                "write the model elsewhere"
            )
    if os.path.lexists(output) and not (resume or overwrite):
        raise LutcliError(f"'{output}' exists; use --overwrite to replace it or --resume")
    for path, ours, what in (
        (output, lambda path: _holds(path, FORMAT), "a lutcli model file"),
        (
            state_path_for(output),
            lambda path: _holds(path, STATE_FORMAT),
            "a lutcli training state",
        ),
        (report_path_for(output), _is_report, "a lutcli training report"),
    ):
        if os.path.lexists(path) and not ours(path):
            raise LutcliError(
                f"'{path}' is not {what}: lutcli does not replace it "
                "(move it, or choose another --output)"
            )
    return output


def _holds(path: Path, expected_format: str) -> bool:
    """Whether ``path`` is a file lutcli wrote in ``expected_format`` (a model, a state)."""
    try:
        load_payload(path, expected_format)
    except LutcliError:
        return False
    return True


def _is_report(path: Path) -> bool:
    """Whether ``path`` is a training report (a PNG drawn by Matplotlib), not a photo."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(256)
    except OSError:
        return False
    return start.startswith(_REPORT_START) and _REPORT_SOFTWARE in start


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
