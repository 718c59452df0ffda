"""Progress bars and warnings on stderr (rich), bars silenced by --quiet, so stdout stays for
results. rich is loaded only when something is shown: a script that runs ``lutcli apply -q``
once per file does not pay for its import at every start."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # torch is imported only by the commands that need it
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from lutcli.training.trainer import TrainingResult, TrainingStatus


@functools.cache
def stderr_console() -> Console:
    """The rich console on stderr that bars, warnings and skipped files are printed on."""
    from rich.console import Console

    return Console(stderr=True)


def print_markup(markup: str) -> None:
    """One line of rich markup on stderr, shown whatever --quiet says."""
    stderr_console().print(markup, highlight=False, soft_wrap=True)


def escape(text: str) -> str:
    """``text`` as rich markup that prints it as it is ("photo [edit].jpg" included)."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)


class SilentProgress:
    """What ``progress_bar`` gives under --quiet: the calls a rich Progress takes, doing
    nothing."""

    def add_task(self, description: str, **fields: Any) -> int:
        return 0

    def update(self, task: int, **fields: Any) -> None:
        pass

    def remove_task(self, task: int) -> None:
        pass


@contextlib.contextmanager
def progress_bar(quiet: bool) -> Iterator[Progress]:
    """A rich Progress on stderr, or with ``quiet`` a SilentProgress. The detail column shows
    its text as it is (file names are not markup)."""
    if quiet:
        yield SilentProgress()  # type: ignore[misc]  # the part of Progress that is used
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}", markup=False),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
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
    print_markup(f"[yellow]warning:[/] {escape(message)}")


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
