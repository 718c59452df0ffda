"""Training a zoo model from a folder of pairs: the library call behind ``lutcli train``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lutcli.clip_settings import DEFAULT_CLIP_FRAMES
from lutcli.errors import DatasetError, LutcliError
from lutcli.fileutil import default_cache_root
from lutcli.io.pixels import from_tensor
from lutcli.kernels.cuda import resolve_device
from lutcli.models import MODEL_SUFFIX
from lutcli.models.base import check_scales
from lutcli.models.files import FORMAT, FORMAT_VERSION, load_model, load_payload
from lutcli.models.registry import create_model, model_class
from lutcli.training import distributed
from lutcli.training.data import Pair, SampleSet, find_pairs
from lutcli.training.options import TrainingOptions
from lutcli.training.prepared import PreparedPair, PreparedSamples, TrainingCache, prepare_pairs
from lutcli.training.report import write_report
from lutcli.training.trainer import (
    STATE_FORMAT,
    STATE_VERSION,
    Trainer,
    TrainingResult,
    TrainingStatus,
    split_samples,
    state_path_for,
)

# A training report is a PNG drawn by Matplotlib, which names itself in a text chunk up front.
_REPORT_START = b"\x89PNG\r\n\x1a\n"
_REPORT_SOFTWARE = b"tEXtSoftware\x00Matplotlib"
# The report shows this many validation photos, each at most this many pixels a side.
REPORT_PHOTOS = 6
REPORT_SIDE = 512


def train_from_folder(
    pairs_folder: str | os.PathLike,
    output: str | os.PathLike,
    *args: Any,
    frames: int = DEFAULT_CLIP_FRAMES,
    **kwargs: Any,
) -> TrainingResult:
    """Learn a zoo model from ``pairs_folder/input`` → ``pairs_folder/target`` into ``output``,
    taking ``frames`` frames of each clip there; the rest of the arguments are those of
    ``train_from_pairs``."""
    pairs = find_pairs(pairs_folder, frames, kwargs.get("cache_root"))
    return train_from_pairs(pairs, output, *args, **kwargs)


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
    cache_root: str | os.PathLike | None = None,
    on_status: Callable[[TrainingStatus], None] = lambda _: None,
    warn: Callable[[str], None] = lambda _: None,
    on_prepared: Callable[[int, int], None] = lambda done, total: None,
    info: dict[str, Any] | None = None,
    train_only: list[Pair] | None = None,
) -> TrainingResult:
    """Learn ``model_name`` from input/target ``pairs`` into ``output``.

    ``model_options`` are the zoo model's own settings (``lutcli models`` lists them);
    ``options.scales`` train it on a pyramid (``training.multiscale``); ``info`` goes into the
    model file beside how it was trained. ``train_only`` pairs (color charts such as distill's
    probe) are always trained on, never held out for validation, and never shrunk.
    The pairs are prepared once into the training cache under ``cache_root`` (default:
    ``default_cache_root()``) and read from there. The best model by validation PSNR is
    written to ``output``, the resumable state and a PNG report (curves and validation photos)
    beside it. A pair that cannot be read is named through ``warn`` and left out. Under
    torchrun every process calls this alike (see ``distributed``).
    """
    options = options or TrainingOptions()
    model_options = dict(model_options or {})
    if "lut_size" in model_options:
        raise LutcliError("lut_size is not a model option: set it with --lut-size")
    model_class(model_name)  # an unknown name is told before the photos are prepared
    try:
        check_scales(options.scales)
    except ValueError as error:
        raise LutcliError(f"bad --scales: {error}") from None
    every_pair = [*pairs, *(train_only or [])]
    pictures = {path.parent for pair in every_pair for path in (pair.input_path, pair.target_path)}
    output = check_model_output(output, resume, overwrite, pictures)
    chosen_device = distributed.join(resolve_device(device))
    try:
        if not distributed.is_writer():  # rank 0 tells the user
            warn, on_prepared = (lambda *_: None), (lambda *_: None)
        root = cache_root or default_cache_root()
        caches = TrainingCache(root, options.resolution), TrainingCache(root, None)
        photos, extra = _prepare(
            pairs, train_only or [], caches, options.workers, warn, on_prepared
        )
        if len(photos) == 1:
            warn("only one pair: it is used for training and validation alike")
        return _train(
            photos,
            extra,
            output,
            model_name,
            lut_size,
            model_options,
            options,
            chosen_device,
            resume,
            on_status,
            info,
        )
    finally:
        distributed.leave()


def _prepare(
    pairs: list[Pair],
    train_only: list[Pair],
    caches: tuple[TrainingCache, TrainingCache],
    workers: int,
    warn: Callable[[str], None],
    on_prepared: Callable[[int, int], None],
) -> tuple[PreparedSamples, PreparedSamples]:
    """The cache entries of ``pairs`` (in ``caches[0]``, at the training resolution) and of
    ``train_only`` (in ``caches[1]``, at full size), the pairs that cannot be read left out.
    Under torchrun each process first prepares its share, so that together they decode every
    pair once, and tells the others its entries; then each takes those its file system has and
    prepares any it lacks (a cache that is not shared between machines)."""
    every_pair = [*pairs, *train_only]
    known: tuple[dict[str, PreparedPair], ...] = ({}, {})
    if distributed.world_size() > 1:
        share = slice(distributed.rank(), None, distributed.world_size())
        for group, cache, found in zip((pairs, train_only), caches, known, strict=True):
            mine, _ = prepare_pairs(group[share], cache, workers)
            found.update((entry.name, entry) for entry in distributed.gather(mine.entries))
    photos, _ = prepare_pairs(
        pairs,
        caches[0],
        workers,
        warn,
        lambda done: on_prepared(done, len(every_pair)),
        known[0],
    )
    extra, _ = prepare_pairs(
        train_only,
        caches[1],
        workers,
        warn,
        lambda done: on_prepared(len(pairs) + done, len(every_pair)),
        known[1],
    )
    if not len(photos) and not len(extra):
        raise DatasetError(
            f"none of the {len(every_pair)} pairs could be read: nothing to learn from"
        )
    if not len(photos):  # only pairs meant for training alone are left: they are all there is
        photos, extra = extra, PreparedSamples([])
    return photos, extra


def _train(
    photos: PreparedSamples,
    extra: PreparedSamples,
    output: Path,
    model_name: str,
    lut_size: int,
    model_options: dict[str, Any],
    options: TrainingOptions,
    device: torch.device,
    resume: bool,
    on_status: Callable[[TrainingStatus], None],
    info: dict[str, Any] | None,
) -> TrainingResult:
    """The training run itself, on prepared pairs (``extra`` are never held out)."""
    train_indices, validation_indices = split_samples(
        len(photos), options.validation_fraction, options.seed, options.validation_pairs
    )
    train = PreparedSamples([photos.entries[i] for i in train_indices] + extra.entries)
    validation = photos.subset(validation_indices)
    torch.manual_seed(options.seed)  # models with random initial weights start alike
    model = create_model(model_name, lut_size=lut_size, **model_options)
    pairs = len(photos) + len(extra)
    info = {**(info or {}), "pairs": pairs, "validation_pairs": validation.names}
    trainer = Trainer(model, train, validation, output, options, device, info)
    if resume:
        trainer.resume()
    elif state_path_for(output).exists() and distributed.is_writer():
        state_path_for(output).unlink()
    result = trainer.run(on_status)
    result.report = report_path_for(output)
    if distributed.is_writer():
        write_training_report(result.report, output, result, validation)
    return result


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
            lambda path: _holds(path, STATE_FORMAT, STATE_VERSION),
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


def _holds(path: Path, expected_format: str, newest_version: int = FORMAT_VERSION) -> bool:
    """Whether ``path`` is a file lutcli wrote in ``expected_format`` (a model, a state)."""
    try:
        load_payload(path, expected_format, newest_version)
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
    path: Path, model_path: Path, result: TrainingResult, validation: SampleSet
) -> None:
    """Curves of the run and the best model's output on (up to REPORT_PHOTOS) validation
    photos, each shrunk to REPORT_SIDE (the stored context is the whole photo's)."""
    model, _ = load_model(model_path)
    rows = []
    for index in range(min(REPORT_PHOTOS, len(validation))):
        sample = validation.preview(index, REPORT_SIDE)
        output = model(sample.input[None], context=sample.context[None])
        pictures = (from_tensor(t, np.uint8) for t in (sample.input, output, sample.target))
        rows.append((sample.name, *pictures))
    title = f"{model_path.name} · {model.name}"
    write_report(path, result.history, rows, title)
