"""Progress bars on stderr (rich), silenced by --quiet, so stdout stays for results."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:  # torch is imported only by the commands that need it
    from lutcli.training.trainer import TrainingResult, TrainingStatus

stderr = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(quiet: bool) -> Iterator[Progress]:
    """A rich Progress on stderr; disabled (but still usable) with ``quiet``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        disable=quiet,
        transient=False,
    )
    with progress:
        try:
            yield progress
        except BaseException:
            # The error (or "interrupted") is to be the one line left to read: take the bar
            # away (and skip the blank line Progress.stop prints where stderr is not a
            # terminal).
            progress.live.transient = True
            progress.live.stop()
            progress.disable = True
            raise


def warn(message: str) -> None:
    """A warning line on stderr (shown even with --quiet: it may matter to the result)."""
    stderr.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def gpu_in_use(device: str) -> bool:
    """Whether ``--device`` (auto, cpu, cuda) will compute on a GPU here."""
    import torch

    return device != "cpu" and torch.cuda.is_available()


class TrainingProgress:
    """Progress of a training run (preparing pairs, then epochs) on ``progress``; its methods
    are the callbacks that ``train_from_pairs`` takes."""

    def __init__(self, progress: Progress, on_gpu: bool = False) -> None:
        self.progress = progress
        self.preparing = progress.add_task("preparing pairs", total=None, detail="")
        self.training: TaskID | None = None
        self.last_score = ""
        # Between the pairs and the first step: the warm start and the first validation, and
        # on a GPU the kernels' compilation; said, so that a quiet bar is not taken for a hang.
        self.starting = "warm start, first validation" + (
            "; compiling the GPU kernels on a first run" if on_gpu else ""
        )

    def on_prepared(self, done: int, total: int) -> None:
        self.progress.update(self.preparing, completed=done, total=total)
        if done == total and self.training is None:
            self.training = self.progress.add_task("starting", total=None, detail=self.starting)

    def on_status(self, status: TrainingStatus) -> None:
        if self.training is None:
            self.training = self.progress.add_task("training", total=status.total_steps, detail="")
        self.progress.update(self.training, total=status.total_steps)
        if status.validation_psnr is not None:
            self.last_score = f"val {status.validation_psnr:.2f} dB  best {status.best_psnr:.2f} dB"
        loss = f"loss {status.loss:.2e}  " if status.loss == status.loss else ""  # not NaN
        stage = f" ({status.stage})" if status.stages > 1 else ""
        self.progress.update(
            self.training,
            completed=status.step,
            description=f"epoch {status.epoch}/{status.epochs}{stage}",
            detail=loss + self.last_score,
        )


def echo_training_summary(result: TrainingResult, output: Path) -> None:
    """The lines printed after training: how it ended, the best PSNR, the model and report."""
    how = "stopped early" if result.stopped_early else "done"
    click.echo(
        f"{how} after {result.epochs_run} epochs in {result.seconds:.1f} s; best validation "
        f"PSNR {result.best_psnr:.2f} dB (epoch {result.best_epoch}); model: {output}"
    )
    click.echo(f"report: {result.report}")
