"""The progress display: what a user sees between the steps, and nothing under --quiet."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress

from lutcli.cli.progress import TrainingProgress, progress_bar
from lutcli.training.trainer import TrainingStatus


def shown(on_gpu: bool) -> tuple[TrainingProgress, Progress]:
    progress = Progress(console=Console(file=io.StringIO()))
    return TrainingProgress(progress, on_gpu), progress


def status(step: int, total: int) -> TrainingStatus:
    return TrainingStatus(1, 2, step, total, 0.01, None, None, "all", 1)


def test_the_time_before_the_first_step_says_what_it_is_spent_on():
    training, progress = shown(on_gpu=False)
    training.on_prepared(3, 3)
    starting = progress.tasks[-1]
    assert starting.description == "starting"
    assert starting.fields["detail"] == "warm start, first validation"
    training.on_status(status(1, 40))
    assert len(progress.tasks) == 2  # the same line goes on as the training bar
    assert progress.tasks[-1].description == "epoch 1/2" and progress.tasks[-1].total == 40


def test_on_a_gpu_it_says_that_the_kernels_compile():
    training, progress = shown(on_gpu=True)
    training.on_prepared(1, 2)
    assert len(progress.tasks) == 1  # still preparing
    training.on_prepared(2, 2)
    assert "compiling the GPU kernels" in progress.tasks[-1].fields["detail"]


def test_quiet_takes_every_call_of_the_bars_and_shows_nothing(capsys):
    with progress_bar(quiet=True) as progress:
        training = TrainingProgress(progress)
        training.on_prepared(2, 2)
        training.on_status(status(1, 40))
        task = progress.add_task("applying", total=3, detail="")
        frames = progress.add_task("  frames", total=10, detail="clip.mp4")
        progress.update(frames, completed=4, total=10)
        progress.remove_task(frames)
        progress.update(task, advance=1, detail="photo [bold].png")
    assert capsys.readouterr() == ("", "")
