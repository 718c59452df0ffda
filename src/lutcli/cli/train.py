"""``lutcli train``: learn a model from before/after pairs."""

from __future__ import annotations

from pathlib import Path

import click

from lutcli.cli.options import output_option, training_options
from lutcli.cli.progress import (
    TrainingProgress,
    echo_training_summary,
    gpu_in_use,
    progress_bar,
    warn,
)
from lutcli.training.options import TrainingOptions


@click.command(short_help="Learn a look from before/after pairs.")
@click.argument("pairs", type=click.Path(path_type=Path))
@output_option("Model file to write (.pt).")
@training_options
def train(
    pairs: Path,
    output: Path,
    model_name: str,
    lut_size: int,
    model_options: dict[str, object],
    resume: bool,
    overwrite: bool,
    device: str,
    cache_root: Path | None,
    frames: int,
    quiet: bool,
    **training: object,
) -> None:
    """Learn a model from PAIRS/input/* and PAIRS/target/* (matched by file name): photos, or
    clips and their graded versions (--frames of each).

    The model with the best validation PSNR is kept in OUTPUT; the training state is saved
    beside it after every epoch (OUTPUT.training.pt), so an interrupted run goes on with --resume.

    \b
      lutcli train pairs/ -o look.pt
      lutcli train pairs/ -o look.pt --epochs 300 --resume
      lutcli train pairs/ -o auto.pt --model first-linear --model-option basis_count=5
      torchrun --nproc-per-node=4 -m lutcli train pairs/ -o look.pt --batch-size 16
    """
    from lutcli.training.distributed import launched_rank
    from lutcli.training.folder import train_from_folder

    options = TrainingOptions(**training)
    quiet = quiet or launched_rank() != 0  # under torchrun, rank 0 alone shows the progress
    with progress_bar(quiet) as progress:
        shown = TrainingProgress(progress, gpu_in_use(device))
        result = train_from_folder(
            pairs,
            output,
            model_name,
            lut_size,
            model_options,
            options,
            device,
            resume,
            overwrite,
            cache_root=cache_root,
            frames=frames,
            on_status=shown.on_status,
            warn=warn,
            on_prepared=shown.on_prepared,
        )
    if not quiet:
        echo_training_summary(result, output)
