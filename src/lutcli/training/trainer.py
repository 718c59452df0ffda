"""The training loop: random crops, Adam, validation PSNR, best checkpoint, resumable state.

Crops are read by DataLoader worker processes from a SampleSet (the prepared cache on disk), so
decoding never stalls the step and memory does not grow with the pairs; under torchrun each
process trains on its share of every step's crops (DistributedDataParallel averages the
gradients), which makes N processes compute what one would with the same batch.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from lutcli import __version__
from lutcli.errors import LutcliError
from lutcli.io.pixels import strips
from lutcli.models.base import LutModel
from lutcli.models.files import load_payload, save_model, save_payload
from lutcli.models.networks import standardize_statistics, use_mixed_precision
from lutcli.training import distributed
from lutcli.training.data import CropBatches, SampleSet, crop_loader
from lutcli.training.losses import monotonicity, psnr_from_mse, smoothness
from lutcli.training.multiscale import pyramid_level
from lutcli.training.options import TrainingOptions

STATE_FORMAT = "lutcli-training-state"
# Version 2: the crops of a step come from (seed, step), not from a saved random generator.
STATE_VERSION = 2
# The warm start reads its colors from at most this many training pairs (a random choice).
WARM_START_PAIRS = 256


@dataclass
class TrainingStatus:
    """What the progress display shows; sent after every step and every validation."""

    epoch: int
    epochs: int
    step: int
    total_steps: int
    loss: float
    validation_psnr: float | None
    best_psnr: float | None
    stage: str  # the name of the training stage ("all" for single-stage models)
    stages: int


@dataclass
class TrainingResult:
    """How training went: the best validation PSNR (dB), when it was reached, and the history."""

    best_psnr: float
    best_epoch: int
    epochs_run: int
    seconds: float
    stopped_early: bool
    history: list[dict[str, float]] = field(default_factory=list)
    report: Path | None = None  # the PNG report, when one was written


def state_path_for(model_path: Path) -> Path:
    """Where the resumable training state of ``model_path`` lives: look.pt → look.training.pt."""
    return model_path.with_name(model_path.stem + ".training.pt")


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """The resumable training state saved at ``path`` (no code in it is ever run)."""
    return load_payload(path, STATE_FORMAT, STATE_VERSION)


def split_samples(
    count: int, fraction: float, seed: int, most: int | None = None
) -> tuple[list[int], list[int]]:
    """Indices of ``count`` pairs as (training, validation): ``fraction`` of them (at least
    one, at most ``most``) held out for validation, chosen by ``seed``.

    A single pair is used for both: there is nothing to hold out.
    """
    if count < 2:
        return list(range(count)), list(range(count))
    held = min(count - 1, max(1, round(count * fraction)))
    if most is not None:
        held = max(1, min(held, most))
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    return order[held:], order[:held]


def regularization(model: LutModel, options: TrainingOptions) -> torch.Tensor:
    """Smoothness and monotonicity of every learnable LUT of the model."""
    total = torch.zeros((), device=next(model.parameters()).device)
    for lut in model.smooth_luts():
        total = total + options.smoothness_weight * smoothness(lut)
    for lut in model.monotone_luts():
        total = total + options.monotonicity_weight * monotonicity(lut)
    return total


@torch.no_grad()
def validate(model: LutModel, samples: SampleSet, device: torch.device) -> float:
    """PSNR (dB) of the model's outputs against the targets, over all validation pixels.

    Pictures are read in strips (``io.pixels.strips``, each with its whole picture's context,
    so the outputs are those of the whole picture); under torchrun each process measures its
    share and the sums are added up, so every process gets the same score.
    """
    model.eval()
    squared_error, pixels = 0.0, 0
    for index in range(distributed.rank(), len(samples), distributed.world_size()):
        height, width = samples.sizes[index]
        for rows in strips(height, width):
            strip = samples.crop(index, rows.start, 0, rows.stop - rows.start, width)
            context = strip.context[None].to(device)
            output = model(strip.input[None].to(device), context=context)
            error = (output.clamp(0, 1) - strip.target[None].to(device)) ** 2
            squared_error += error.sum().item()
            pixels += error.numel()
    model.train()
    squared_error, pixels = distributed.sum_over_processes([squared_error, pixels])
    return psnr_from_mse(squared_error / pixels)


def warm_start_colors(
    samples: SampleSet, count: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Training colors for the warm start, (3, P) inputs and targets: every pixel when the pairs
    hold at most ``count``, else about ``count`` drawn at random, from at most WARM_START_PAIRS
    pairs; only the drawn pixels are read, so memory holds the colors, never a picture."""
    rng = np.random.default_rng([seed, count])
    chosen = rng.permutation(len(samples))[:WARM_START_PAIRS].tolist()
    total = sum(samples.sizes[i][0] * samples.sizes[i][1] for i in chosen)
    inputs, targets = [], []
    for index in sorted(chosen):
        height, width = samples.sizes[index]
        if total > count:
            share = math.ceil(count * height * width / total)
            positions = np.sort(rng.integers(height * width, size=share))
        else:
            positions = np.arange(height * width)
        colors = samples.colors(index, positions)
        inputs.append(colors[0])
        targets.append(colors[1])
    return torch.cat(inputs, dim=1), torch.cat(targets, dim=1)


class _TrainingLoss(nn.Module):
    """The model's training loss as a forward pass, which DistributedDataParallel wraps."""

    def __init__(self, model: LutModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, inputs: torch.Tensor, targets: torch.Tensor, contexts: torch.Tensor
    ) -> torch.Tensor:
        return self.model.training_loss(inputs, targets, contexts)


class Trainer:
    """Trains ``model`` on ``train`` pairs; the best model (by validation PSNR) goes to ``output``.

    After every epoch, and every ``checkpoint_every`` steps, the whole state (model, optimizer,
    step, history) is written beside the output, so an interrupted run continues with
    ``resume=True`` exactly where it was.
    """

    def __init__(
        self,
        model: LutModel,
        train: SampleSet,
        validation: SampleSet,
        output: str | os.PathLike,
        options: TrainingOptions,
        device: torch.device,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model.to(device)
        # Trained on the pyramid of ``options.scales`` (none: full size only), the model chooses
        # its LUT at the coarsest scale, in training as when it is applied.
        self.model.scales = options.scales
        use_mixed_precision(self.model, options.mixed_precision and device.type == "cuda")
        self.train_samples = train
        self.validation_samples = validation
        self.output = Path(output)
        self.state_path = state_path_for(self.output)
        self.options = options
        self.device = device
        self.info = info or {}
        # An epoch draws about as many pixels as the training pairs hold (a crop of a picture
        # smaller than the crop size is the whole picture).
        pixels = sum(height * width for height, width in train.sizes)
        crop = options.crop_size
        crop_pixels = sum(min(height, crop) * min(width, crop) for height, width in train.sizes)
        step_pixels = options.batch_size * crop_pixels / max(1, len(train))
        self.steps_per_epoch = max(1, math.ceil(pixels / step_pixels))
        # None means the model's own rate; 0 is a rate (nothing moves), not "unset".
        rate = model.learning_rate if options.learning_rate is None else options.learning_rate
        self.optimizer = torch.optim.Adam(model.parameters(), lr=rate)
        # The rate decays to zero along a cosine: the noise of random crops averages out at the
        # end, so the LUT settles on the optimum instead of jittering around it. The cosine is
        # a function of the step and of the current ``epochs`` (a lambda: not stored in the saved
        # state), so a run resumed with more epochs decays over its new length.
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: self._rate_factor(step)
        )
        self.stages = model.stages()
        self.epoch = 0
        self.step = 0  # steps taken, over all epochs
        self.epoch_loss = 0.0  # the training loss summed over this epoch's steps so far
        self.best_psnr = -math.inf
        self.best_epoch = 0
        # The last epoch that made progress (``min_improvement`` over the previous such epoch).
        self.improved_psnr = -math.inf
        self.improved_epoch = 0
        self.history: list[dict[str, float]] = []
        self._clock_start = time.perf_counter()  # of the history's "seconds" (set by run)
        self._enter_stage(0)

    def _enter_stage(self, stage: int) -> None:
        """Train only this stage's parameters from now on (gradients reach nothing else)."""
        self.stage = stage
        self.stage_started = self.epoch
        self.stage_improved_psnr, self.stage_improved_epoch = -math.inf, self.epoch
        trained = {id(parameter) for parameter in self.stages[stage][1]}
        for parameter in self.model.parameters():
            parameter.requires_grad_(id(parameter) in trained)
        self._wrap()

    def _wrap(self) -> None:
        """What a step calls for the loss: the model's own, or under torchrun the model in
        DistributedDataParallel (made anew when the trained parameters change; making it also
        gives every process rank 0's parameters)."""
        if distributed.world_size() == 1:
            self._loss = self.model.training_loss
            return
        self._loss = DistributedDataParallel(
            _TrainingLoss(self.model),
            device_ids=[self.device.index] if self.device.type == "cuda" else None,
            # The same parameters take part in every step of a stage (some may take none: an
            # unused input), which a static graph lets DDP learn once.
            static_graph=True,
        )

    def _stage_is_over(self) -> bool:
        """A stage before the last ends after ``first_stage_epochs`` epochs, or earlier when its
        validation PSNR has made no progress (``min_improvement``) for ``first_stage_patience``
        epochs."""
        if self.stage + 1 >= len(self.stages):
            return False
        done = self.epoch - self.stage_started >= self.options.first_stage_epochs
        stalled = self.epoch - self.stage_improved_epoch >= self.options.first_stage_patience
        return done or stalled

    def _rate_factor(self, step: int) -> float:
        """The cosine decay of the learning rate: 1 at the first step, 0 at the last."""
        total = max(1, self.options.epochs * self.steps_per_epoch)
        return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))

    def resume(self) -> None:
        """Load the state saved by an interrupted run of the same training."""
        if not self.state_path.is_file():
            raise LutcliError(f"nothing to resume: no training state at '{self.state_path}'")
        state = load_state(self.state_path)
        if state.get("format_version") != STATE_VERSION:
            raise LutcliError(
                f"cannot resume: '{self.state_path}' was saved by another version of lutcli; "
                "train afresh with --overwrite"
            )
        if state["model"] != self.model.name or state["config"] != self.model.config():
            raise LutcliError(
                f"cannot resume: '{self.state_path}' trains a different model "
                f"({state['model']} {state['config']})"
            )
        scales = state.get("scales", [])  # a state saved before models kept scales has none
        if scales != list(self.model.scales):
            raise LutcliError(
                f"cannot resume: '{self.state_path}' trains at scales {scales}, "
                f"not {list(self.model.scales)} (--scales)"
            )
        if state["steps_per_epoch"] != self.steps_per_epoch:
            raise LutcliError(
                f"cannot resume: '{self.state_path}' trained on other pairs or crops "
                f"({state['steps_per_epoch']} steps an epoch, now {self.steps_per_epoch})"
            )
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.epoch = state["epoch"]
        self.step = state["step"]
        self.epoch_loss = state["epoch_loss"]
        self.best_psnr = state["best_psnr"]
        self.best_epoch = state["best_epoch"]
        self.history = list(state["history"])
        self._enter_stage(state["stage"])
        self.stage_started = state["stage_started"]
        # A state saved before progress had a threshold: its best epochs stand in.
        self.improved_psnr = state.get("improved_psnr", self.best_psnr)
        self.improved_epoch = state.get("improved_epoch", self.best_epoch)
        self.stage_improved_psnr = state.get("stage_improved_psnr", state.get("stage_best_psnr"))
        self.stage_improved_epoch = state.get("stage_improved_epoch", state.get("stage_best_epoch"))

    def run(self, on_status: Callable[[TrainingStatus], None] = lambda _: None) -> TrainingResult:
        """Warm start (epoch 0 of a fresh run), then train until ``epochs``, or until validation
        PSNR has made no progress (a rise of ``min_improvement`` dB) for ``patience`` epochs."""
        started = time.perf_counter()
        # The clock of the history goes on from where a resumed run stopped.
        self._clock_start = started - (
            self.history[-1].get("seconds", 0.0) if self.history else 0.0
        )
        if not self.history:
            self._standardize_statistics()
            fit_psnr = self._warm_start() if self.options.warm_start else None
            self._end_epoch(math.nan, on_status, fit_psnr)
        stopped_early = False
        self.model.train()
        batches = iter(self._loader())
        while self.epoch < self.options.epochs:
            # Patience counts from the stage's start: a new stage gets its chance.
            if self.epoch - max(self.improved_epoch, self.stage_started) >= self.options.patience:
                stopped_early = True
                break
            loss = self._train_epoch(batches, on_status)
            self.epoch += 1
            self._end_epoch(loss, on_status)
        del batches  # its worker processes end here
        return TrainingResult(
            best_psnr=self.best_psnr,
            best_epoch=self.best_epoch,
            epochs_run=self.epoch,
            seconds=time.perf_counter() - started,
            stopped_early=stopped_early,
            history=self.history,
        )

    def _loader(self) -> torch.utils.data.DataLoader:
        """The crops of every step left to take, read ahead by the worker processes."""
        options = self.options
        batches = CropBatches(
            self.train_samples.sizes,
            range(self.step, options.epochs * self.steps_per_epoch),
            options.seed,
            options.batch_size,
            options.crop_size,
            distributed.rank(),
            distributed.world_size(),
        )
        return crop_loader(self.train_samples, batches, options.workers, self.device.type == "cuda")

    @torch.no_grad()
    def _standardize_statistics(self) -> None:
        """Standardize the color statistics of the model's networks by those of at most
        WARM_START_PAIRS training pictures, as the untrained model sees them (one at a time:
        memory holds one context)."""
        chosen = np.random.default_rng(self.options.seed).permutation(len(self.train_samples))

        def look() -> None:
            for index in chosen[:WARM_START_PAIRS].tolist():
                piece = self.train_samples.crop(index, 0, 0, 1, 1)
                pixel, context = piece.input[None], piece.context[None]
                self.model(pixel.to(self.device), context.to(self.device))

        standardize_statistics(self.model, look)

    def _warm_start(self) -> float | None:
        """Let the model set itself to the exact fit of one LUT, if it knows how; under torchrun
        rank 0's result is the one every process keeps.

        A model that starts from the identity (``starts_from_fit`` False) keeps the fit only
        as the model to beat: saved as the best so far, it stays the result unless an epoch
        scores better on validation (so such a model never ends below one LUT where one LUT
        makes the look). Returns the fit's validation PSNR then, else None."""
        start = None
        if not self.model.starts_from_fit:
            start = {key: value.clone() for key, value in self.model.state_dict().items()}
        inputs, targets = warm_start_colors(
            self.train_samples, self.options.warm_start_pixels, self.options.seed
        )
        if not self.model.warm_start(inputs, targets, self.options.smoothness_weight):
            return None
        if start is None:
            self._wrap()
            return None
        score = validate(self.model, self.validation_samples, self.device)
        self.best_psnr = self.improved_psnr = score
        if distributed.is_writer():
            save_model(self.output, self.model, self._model_info())
        self.model.load_state_dict(start)
        return score

    def _end_epoch(
        self,
        loss: float,
        on_status: Callable[[TrainingStatus], None],
        fit_psnr: float | None = None,
    ) -> None:
        """Validate, keep the model if it is the best so far, save the resumable state.
        ``fit_psnr``: the validation PSNR of the warm start kept as the model to beat."""
        score = validate(self.model, self.validation_samples, self.device)
        stage = self.stages[self.stage][0]
        self.history.append(
            {
                "epoch": self.epoch,
                "loss": loss,
                "validation_psnr": score,
                "stage": stage,
                # Seconds of this training so far, validations included (resumed runs go on).
                "seconds": time.perf_counter() - self._clock_start,
            }
        )
        if fit_psnr is not None:
            self.history[-1]["fit_psnr"] = fit_psnr
        if score > self.best_psnr:
            self.best_psnr, self.best_epoch = score, self.epoch
            if distributed.is_writer():
                save_model(self.output, self.model, self._model_info())
        progress = self.options.min_improvement
        if score >= self.improved_psnr + progress:
            self.improved_psnr, self.improved_epoch = score, self.epoch
        if score >= self.stage_improved_psnr + progress:
            self.stage_improved_psnr, self.stage_improved_epoch = score, self.epoch
        status = self._status(self.epoch, self.steps_per_epoch, loss, score)
        if self._stage_is_over():
            self._enter_stage(self.stage + 1)
        self._save_state()
        on_status(status)

    def _train_epoch(
        self, batches: Iterator[list[torch.Tensor]], on_status: Callable[[TrainingStatus], None]
    ) -> float:
        """The rest of this epoch's steps; the mean training loss over all of its steps."""
        every = self.options.checkpoint_every
        for step in range(
            self.step - self.epoch * self.steps_per_epoch + 1, self.steps_per_epoch + 1
        ):
            inputs, targets, contexts = (
                t.to(self.device, non_blocking=True) for t in next(batches)
            )
            # One scale of the pyramid a step, in turn; the saved step count keeps the turn.
            inputs, targets = pyramid_level(inputs, targets, self.step, self.model.scales)
            loss = self._loss(inputs, targets, contexts)
            objective = loss + regularization(self.model, self.options).to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self.optimizer.step()
            self.schedule.step()
            self.step += 1
            self.epoch_loss += loss.item()
            if every and self.step % every == 0 and step < self.steps_per_epoch:
                self._save_state()
            on_status(self._status(self.epoch + 1, step, self.epoch_loss / step, None))
        (total,) = distributed.sum_over_processes([self.epoch_loss])
        self.epoch_loss = 0.0
        return total / distributed.world_size() / self.steps_per_epoch

    def _status(self, epoch: int, step: int, loss: float, score: float | None) -> TrainingStatus:
        return TrainingStatus(
            epoch=epoch,
            epochs=self.options.epochs,
            step=max(0, (epoch - 1) * self.steps_per_epoch + step),
            total_steps=self.options.epochs * self.steps_per_epoch,
            loss=loss,
            validation_psnr=score,
            best_psnr=self.best_psnr if self.history else None,
            stage=self.stages[self.stage][0],
            stages=len(self.stages),
        )

    def _model_info(self) -> dict[str, Any]:
        return {
            **self.info,
            "lutcli_version": __version__,
            "epoch": self.epoch,
            "validation_psnr": self.best_psnr,
            "training_options": asdict(self.options),
        }

    def _save_state(self) -> None:
        """The resumable state, beside the model (by rank 0 alone under torchrun)."""
        if not distributed.is_writer():
            return
        save_payload(
            self.state_path,
            {
                "format": STATE_FORMAT,
                "format_version": STATE_VERSION,
                "model": self.model.name,
                "config": self.model.config(),
                "scales": list(self.model.scales),
                "state_dict": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(),
                "steps_per_epoch": self.steps_per_epoch,
                "epoch": self.epoch,
                "step": self.step,
                "epoch_loss": self.epoch_loss,
                "best_psnr": self.best_psnr,
                "best_epoch": self.best_epoch,
                "improved_psnr": self.improved_psnr,
                "improved_epoch": self.improved_epoch,
                "history": self.history,
                "stage": self.stage,
                "stage_started": self.stage_started,
                "stage_improved_psnr": self.stage_improved_psnr,
                "stage_improved_epoch": self.stage_improved_epoch,
            },
        )
