"""``lutcli train``: learn a model from before/after pairs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lutcli.cli.options import device_option, output_option, overwrite_option, quiet_option
from lutcli.cli.progress import progress_bar, warn
from lutcli.training.options import TrainingOptions

DEFAULTS = TrainingOptions()


def parse_model_options(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, object]:
    """KEY=VALUE pairs; VALUE is read as JSON when it is (numbers), else kept as text."""
    options: dict[str, object] = {}
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx, param)
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


@click.command(short_help="Learn a look from before/after pairs.")
@click.argument("pairs", type=click.Path(path_type=Path))
@output_option("Model file to write (.pt).")
@click.option(
    "--model",
    "model_name",
    default="basic",
    show_default=True,
    help="Zoo model to train (see `lutcli models`).",
)
@click.option(
    "--lut-size",
    type=click.IntRange(2, 129),
    default=33,
    show_default=True,
    help="Lattice points per axis.",
)
@click.option("--epochs", type=click.IntRange(0), default=DEFAULTS.epochs, show_default=True)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=DEFAULTS.batch_size,
    show_default=True,
    help="Random crops per step.",
)
@click.option(
    "--crop-size",
    type=click.IntRange(8),
    default=DEFAULTS.crop_size,
    show_default=True,
    help="Side of the random crops, in pixels.",
)
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Adam rate [default: the model's own].",
)
@click.option(
    "--smoothness-weight",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULTS.smoothness_weight,
    show_default=True,
    help="Weight of the LUT smoothness regularizer.",
)
@click.option(
    "--monotonicity-weight",
    type=click.FloatRange(min=0),
    default=DEFAULTS.monotonicity_weight,
    show_default=True,
    help="Weight of the LUT monotonicity regularizer.",
)
@click.option(
    "--validation-fraction",
    type=click.FloatRange(0, 0.9),
    default=DEFAULTS.validation_fraction,
    show_default=True,
    help="Share of pairs held out for validation.",
)
@click.option(
    "--patience",
    type=click.IntRange(1),
    default=DEFAULTS.patience,
    show_default=True,
    help="Stop after this many epochs without a better validation PSNR.",
)
@click.option(
    "--warm-start/--no-warm-start",
    default=DEFAULTS.warm_start,
    show_default=True,
    help="Start from the exact least-squares LUT (models that have one).",
)
@click.option(
    "--seed",
    type=int,
    default=DEFAULTS.seed,
    show_default=True,
    help="Same seed, same data: the same model.",
)
@click.option(
    "--first-stage-epochs",
    type=click.IntRange(0),
    default=DEFAULTS.first_stage_epochs,
    show_default=True,
    help="Staged models: epochs of the first stage (the derived part alone) at most.",
)
@click.option(
    "--first-stage-patience",
    type=click.IntRange(1),
    default=DEFAULTS.first_stage_patience,
    show_default=True,
    help="Staged models: end the first stage when validation PSNR stalls this many epochs.",
)
@click.option(
    "--model-option",
    "model_options",
    multiple=True,
    callback=parse_model_options,
    metavar="KEY=VALUE",
    help="A setting of the zoo model, e.g. basis_count=5 (see `lutcli models`); repeatable.",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its saved state.")
@device_option
@overwrite_option
@quiet_option
def train(
    pairs: Path,
    output: Path,
    model_name: str,
    lut_size: int,
    model_options: dict[str, object],
    resume: bool,
    overwrite: bool,
    device: str,
    quiet: bool,
    **training: object,
) -> None:
    """Learn a model from PAIRS/input/* and PAIRS/target/* (matched by file name).

    The model with the best validation PSNR is kept in OUTPUT; the training state is saved
    beside it after every epoch (OUTPUT.training.pt), so an interrupted run goes on with --resume.

    \b
      lutcli train pairs/ -o look.pt
      lutcli train pairs/ -o look.pt --epochs 300 --resume
      lutcli train pairs/ -o auto.pt --model first-linear --model-option basis_count=5
    """
    from lutcli.training.folder import train_from_folder
    from lutcli.training.trainer import TrainingStatus

    options = TrainingOptions(**training)
    with progress_bar(quiet) as progress:
        loading = progress.add_task("loading pairs", total=None, detail="")
        training_task = None

        def on_loaded(done: int, total: int) -> None:
            progress.update(loading, completed=done, total=total)

        last_score = ""

        def on_status(status: TrainingStatus) -> None:
            nonlocal training_task, last_score
            if training_task is None:
                training_task = progress.add_task("training", total=status.total_steps, detail="")
            if status.validation_psnr is not None:
                last_score = f"val {status.validation_psnr:.2f} dB  best {status.best_psnr:.2f} dB"
            loss = f"loss {status.loss:.2e}  " if status.loss == status.loss else ""  # not NaN
            stage = f" ({status.stage})" if status.stages > 1 else ""
            progress.update(
                training_task,
                completed=status.step,
                description=f"epoch {status.epoch}/{status.epochs}{stage}",
                detail=loss + last_score,
            )

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
            on_status=on_status,
            warn=warn,
            on_loaded=on_loaded,
        )
    if not quiet:
        how = "stopped early" if result.stopped_early else "done"
        click.echo(
            f"{how} after {result.epochs_run} epochs in {result.seconds:.1f} s; best validation "
            f"PSNR {result.best_psnr:.2f} dB (epoch {result.best_epoch}); model: {output}"
        )
        click.echo(f"report: {result.report}")
