"""The training loop: random crops, Adam, validation PSNR, best checkpoint, resumable state."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from lutcli import __version__
from lutcli.errors import LutcliError
from lutcli.models.base import LutModel
from lutcli.models.files import load_payload, save_model, save_payload
from lutcli.training.data import PictureSample, random_crops
from lutcli.training.losses import monotonicity, smoothness
from lutcli.training.options import TrainingOptions

STATE_FORMAT = "lutcli-training-state"


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


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when a GPU is present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise LutcliError("--device cuda was asked for, but no CUDA GPU is available")
    return torch.device(name)


def split_samples(
    samples: list[PictureSample], fraction: float, seed: int
) -> tuple[list[PictureSample], list[PictureSample]]:
    """Hold out ``fraction`` of the pairs (at least one) for validation, chosen by ``seed``.

    A single pair is used for both: there is nothing to hold out.
    """
    if len(samples) < 2:
        return samples, samples
    count = min(len(samples) - 1, max(1, round(len(samples) * fraction)))
    order = torch.randperm(len(samples), generator=torch.Generator().manual_seed(seed)).tolist()
    return [samples[i] for i in order[count:]], [samples[i] for i in order[:count]]


def regularization(model: LutModel, options: TrainingOptions) -> torch.Tensor:
    """Smoothness and monotonicity of every learnable LUT of the model."""
    total = torch.zeros((), device=next(model.parameters()).device)
    for lut in model.smooth_luts():
        total = total + options.smoothness_weight * smoothness(lut)
    for lut in model.monotone_luts():
        total = total + options.monotonicity_weight * monotonicity(lut)
    return total


@torch.no_grad()
def validate(model: LutModel, samples: list[PictureSample], device: torch.device) -> float:
    """PSNR (dB) of the model's outputs against the targets, over all validation pixels."""
    model.eval()
    squared_error, pixels = 0.0, 0
    for sample in samples:
        output = model(sample.input[None].to(device), context=sample.context[None].to(device))
        error = (output.clamp(0, 1) - sample.target[None].to(device)) ** 2
        squared_error += error.sum().item()
        pixels += error.numel()
    model.train()
    mse = squared_error / pixels
    return float("inf") if mse == 0 else -10 * math.log10(mse)


class Trainer:
    """Trains ``model`` on ``train`` pairs; the best model (by validation PSNR) goes to ``output``.

    After every epoch the whole state (model, optimizer, random generator, history) is written
    beside the output, so an interrupted run continues with ``resume=True`` exactly where it was.
    """

    def __init__(
        self,
        model: LutModel,
        train: list[PictureSample],
        validation: list[PictureSample],
        output: str | os.PathLike,
        options: TrainingOptions,
        device: torch.device,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.model = model.to(device)
        self.train_samples = train
        self.validation_samples = validation
        self.output = Path(output)
        self.state_path = state_path_for(self.output)
        self.options = options
        self.device = device
        self.info = info or {}
        self.generator = torch.Generator().manual_seed(options.seed)
        # An epoch draws about as many pixels as the training pairs hold (a crop of a picture
        # smaller than the crop size is the whole picture).
        pixels = sum(s.input.shape[1] * s.input.shape[2] for s in train)
        crop = options.crop_size
        crop_pixels = sum(min(s.input.shape[1], crop) * min(s.input.shape[2], crop) for s in train)
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
        self.best_psnr = -math.inf
        self.best_epoch = 0
        self.history: list[dict[str, float]] = []
        self._enter_stage(0)

    def _enter_stage(self, stage: int) -> None:
        """Train only this stage's parameters from now on (gradients reach nothing else)."""
        self.stage = stage
        self.stage_started = self.epoch
        self.stage_best_psnr, self.stage_best_epoch = -math.inf, self.epoch
        trained = {id(parameter) for parameter in self.stages[stage][1]}
        for parameter in self.model.parameters():
            parameter.requires_grad_(id(parameter) in trained)

    def _stage_is_over(self) -> bool:
        """A stage before the last ends after ``first_stage_epochs`` epochs, or earlier when its
        validation PSNR has not improved for ``first_stage_patience`` epochs."""
        if self.stage + 1 >= len(self.stages):
            return False
        done = self.epoch - self.stage_started >= self.options.first_stage_epochs
        stalled = self.epoch - self.stage_best_epoch >= self.options.first_stage_patience
        return done or stalled

    def _rate_factor(self, step: int) -> float:
        """The cosine decay of the learning rate: 1 at the first step, 0 at the last."""
        total = max(1, self.options.epochs * self.steps_per_epoch)
        return 0.5 * (1 + math.cos(math.pi * min(step, total) / total))

    def resume(self) -> None:
        """Load the state saved by an interrupted run of the same training."""
        if not self.state_path.is_file():
            raise LutcliError(f"nothing to resume: no training state at '{self.state_path}'")
        state = load_payload(self.state_path, STATE_FORMAT)
        if state["model"] != self.model.name or state["config"] != self.model.config():
            raise LutcliError(
                f"cannot resume: '{self.state_path}' trains a different model "
                f"({state['model']} {state['config']})"
            )
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.generator.set_state(state["generator"])
        self.epoch = state["epoch"]
        self.best_psnr = state["best_psnr"]
        self.best_epoch = state["best_epoch"]
        self.history = list(state["history"])
        self._enter_stage(state["stage"])
        self.stage_started = state["stage_started"]
        self.stage_best_psnr = state["stage_best_psnr"]
        self.stage_best_epoch = state["stage_best_epoch"]

    def run(self, on_status: Callable[[TrainingStatus], None] = lambda _: None) -> TrainingResult:
        """Warm start (epoch 0 of a fresh run), then train until ``epochs``, or until validation
        PSNR has not improved for ``patience`` epochs."""
        started = time.perf_counter()
        if not self.history:
            if self.options.warm_start:
                self._warm_start()
            self._end_epoch(math.nan, on_status)
        stopped_early = False
        self.model.train()
        while self.epoch < self.options.epochs:
            # Patience counts from the stage's start: a new stage gets its chance.
            if self.epoch - max(self.best_epoch, self.stage_started) >= self.options.patience:
                stopped_early = True
                break
            loss = self._train_epoch(on_status)
            self.epoch += 1
            self._end_epoch(loss, on_status)
        return TrainingResult(
            best_psnr=self.best_psnr,
            best_epoch=self.best_epoch,
            epochs_run=self.epoch,
            seconds=time.perf_counter() - started,
            stopped_early=stopped_early,
            history=self.history,
        )

    def _warm_start(self) -> None:
        """Let the model set itself from the training colors, if it knows how."""
        inputs = torch.cat([s.input.reshape(3, -1) for s in self.train_samples], dim=1)
        targets = torch.cat([s.target.reshape(3, -1) for s in self.train_samples], dim=1)
        if inputs.shape[1] > self.options.warm_start_pixels:
            keep = torch.randperm(inputs.shape[1], generator=self.generator)
            keep = keep[: self.options.warm_start_pixels]
            inputs, targets = inputs[:, keep], targets[:, keep]
        self.model.warm_start(inputs, targets, self.options.smoothness_weight)

    def _end_epoch(self, loss: float, on_status: Callable[[TrainingStatus], None]) -> None:
        """Validate, keep the model if it is the best so far, save the resumable state."""
        score = validate(self.model, self.validation_samples, self.device)
        stage = self.stages[self.stage][0]
        self.history.append(
            {"epoch": self.epoch, "loss": loss, "validation_psnr": score, "stage": stage}
        )
        if score > self.best_psnr:
            self.best_psnr, self.best_epoch = score, self.epoch
            save_model(self.output, self.model, self._model_info())
        if score > self.stage_best_psnr:
            self.stage_best_psnr, self.stage_best_epoch = score, self.epoch
        status = self._status(self.epoch, self.steps_per_epoch, loss, score)
        if self._stage_is_over():
            self._enter_stage(self.stage + 1)
        self._save_state()
        on_status(status)

    def _train_epoch(self, on_status: Callable[[TrainingStatus], None]) -> float:
        total = 0.0
        for step in range(1, self.steps_per_epoch + 1):
            picks = torch.randint(
                len(self.train_samples), (self.options.batch_size,), generator=self.generator
            )
            batch = [self.train_samples[i] for i in picks.tolist()]
            inputs, targets, contexts = (
                t.to(self.device)
                for t in random_crops(batch, self.options.crop_size, self.generator)
            )
            loss = self.model.training_loss(inputs, targets, contexts)
            objective = loss + regularization(self.model, self.options).to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self.optimizer.step()
            self.schedule.step()
            total += loss.item()
            on_status(self._status(self.epoch + 1, step, total / step, None))
        return total / self.steps_per_epoch

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
        save_payload(
            self.state_path,
            {
                "format": STATE_FORMAT,
                "format_version": 1,
                "model": self.model.name,
                "config": self.model.config(),
                "state_dict": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "schedule": self.schedule.state_dict(),
                "generator": self.generator.get_state(),
                "epoch": self.epoch,
                "best_psnr": self.best_psnr,
                "best_epoch": self.best_epoch,
                "history": self.history,
                "stage": self.stage,
                "stage_started": self.stage_started,
                "stage_best_psnr": self.stage_best_psnr,
                "stage_best_epoch": self.stage_best_epoch,
            },
        )
