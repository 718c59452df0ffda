"""Options shared by several commands, declared once."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import click

from lutcli.clip_settings import DEFAULT_CLIP_FRAMES
from lutcli.training.options import TrainingOptions

quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="No progress bar or summary; errors still go to stderr."
)
device_option = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to compute: auto picks a CUDA GPU when there is one.",
)
interp_option = click.option(
    "--interp",
    type=click.Choice(["trilinear", "tetrahedral"]),
    default="trilinear",
    show_default=True,
    help="How LUTs are interpolated between lattice points.",
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace outputs that already exist (inputs never)."
)


def output_option(what: str) -> Callable:
    """The required ``-o/--output`` path of a command that writes one file (``what`` it is)."""
    return click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help=what)


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


def parse_scales(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    """ "2,4,8" → (2, 4, 8); "" → () (full size only: no training pyramid)."""
    try:
        scales = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise click.BadParameter(f"expected integers like 2,4,8, got {value!r}") from None
    if any(scale < 2 for scale in scales):
        raise click.BadParameter(f"down-sampling factors are integers from 2, got {value!r}")
    return scales


def parse_resolution(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    """ "480" → 480 (the short side, in pixels); "full" → None (photos as they are)."""
    if value == "full":
        return None
    try:
        side = int(value)
    except ValueError:
        side = 0
    if side < 8:
        raise click.BadParameter(
            f"expected a short side in pixels (from 8) or 'full', got {value!r}"
        )
    return side


_DEFAULTS = TrainingOptions()

# What training takes, for every command that trains (train, distill): the zoo model and its
# options, TrainingOptions' fields, --resume, --device, --overwrite and --quiet.
_TRAINING_OPTIONS = [
    click.option(
        "--model",
        "model_name",
        default="basic",
        show_default=True,
        help="Zoo model to train (see `lutcli models`).",
    ),
    click.option(
        "--lut-size",
        type=click.IntRange(2, 129),
        default=33,
        show_default=True,
        help="Lattice points per axis.",
    ),
    click.option("--epochs", type=click.IntRange(0), default=_DEFAULTS.epochs, show_default=True),
    click.option(
        "--batch-size",
        type=click.IntRange(1),
        default=_DEFAULTS.batch_size,
        show_default=True,
        help="Random crops per step.",
    ),
    click.option(
        "--crop-size",
        type=click.IntRange(8),
        default=_DEFAULTS.crop_size,
        show_default=True,
        help="Side of the random crops, in pixels.",
    ),
    click.option(
        "--learning-rate",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Adam rate [default: the model's own].",
    ),
    click.option(
        "--smoothness-weight",
        type=click.FloatRange(min=0, min_open=True),
        default=_DEFAULTS.smoothness_weight,
        show_default=True,
        help="Weight of the LUT smoothness regularizer.",
    ),
    click.option(
        "--monotonicity-weight",
        type=click.FloatRange(min=0),
        default=_DEFAULTS.monotonicity_weight,
        show_default=True,
        help="Weight of the LUT monotonicity regularizer.",
    ),
    click.option(
        "--validation-fraction",
        type=click.FloatRange(0, 0.9),
        default=_DEFAULTS.validation_fraction,
        show_default=True,
        help="Share of pairs held out for validation.",
    ),
    click.option(
        "--validation-pairs",
        type=click.IntRange(1),
        default=_DEFAULTS.validation_pairs,
        show_default=True,
        help="Hold out at most this many pairs, however many the folder has.",
    ),
    click.option(
        "--resolution",
        callback=parse_resolution,
        default="full" if _DEFAULTS.resolution is None else str(_DEFAULTS.resolution),
        show_default=True,
        metavar="SIDE|full",
        help="Train on photos shrunk to this short side in pixels (480: FiveK's usual), "
        "or at full size.",
    ),
    click.option(
        "--workers",
        type=click.IntRange(0),
        default=_DEFAULTS.workers,
        show_default=True,
        help="Processes that read training crops ahead of each step (0: none); "
        "also the threads that prepare the pairs.",
    ),
    click.option(
        "--mixed-precision/--no-mixed-precision",
        default=_DEFAULTS.mixed_precision,
        show_default=True,
        help="On a GPU, train the picture networks' convolutions in bfloat16 "
        "(LUTs stay float32; the saved model applies in float32).",
    ),
    click.option(
        "--checkpoint-every",
        type=click.IntRange(0),
        default=_DEFAULTS.checkpoint_every,
        show_default=True,
        metavar="STEPS",
        help="Also save the resumable state every this many steps (0: after each epoch only).",
    ),
    click.option(
        "--cache",
        "cache_root",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Folder of lutcli's caches: prepared training pairs, teacher outputs, clip "
        "frames [default: $LUTCLI_CACHE, else ~/.cache/lutcli].",
    ),
    click.option(
        "--frames",
        type=click.IntRange(1),
        default=DEFAULT_CLIP_FRAMES,
        show_default=True,
        help="Frames taken from each clip, spread evenly over it (clips are pictures too).",
    ),
    click.option(
        "--patience",
        type=click.IntRange(1),
        default=_DEFAULTS.patience,
        show_default=True,
        help="Stop after this many epochs without progress (see --min-improvement).",
    ),
    click.option(
        "--min-improvement",
        type=click.FloatRange(0),
        default=_DEFAULTS.min_improvement,
        show_default=True,
        help="dB of validation PSNR an epoch must gain to count as progress for --patience "
        "(the best model is kept whatever the gain).",
    ),
    click.option(
        "--warm-start/--no-warm-start",
        default=_DEFAULTS.warm_start,
        show_default=True,
        help="Start from the exact least-squares LUT (models that have one).",
    ),
    click.option(
        "--seed",
        type=int,
        default=_DEFAULTS.seed,
        show_default=True,
        help="Same seed, same data: the same model.",
    ),
    click.option(
        "--first-stage-epochs",
        type=click.IntRange(0),
        default=_DEFAULTS.first_stage_epochs,
        show_default=True,
        help="Staged models: epochs of the first stage (the derived part alone) at most.",
    ),
    click.option(
        "--first-stage-patience",
        type=click.IntRange(1),
        default=_DEFAULTS.first_stage_patience,
        show_default=True,
        help="Staged models: end the first stage after this many epochs without progress.",
    ),
    click.option(
        "--model-option",
        "model_options",
        multiple=True,
        callback=parse_model_options,
        metavar="KEY=VALUE",
        help="A setting of the zoo model, e.g. basis_count=5 (see `lutcli models`); repeatable.",
    ),
    click.option(
        "--scales",
        callback=parse_scales,
        default="",
        metavar="F,F,...",
        help="Training pyramid: also train at these down-sampling factors (integers), e.g. "
        "2,4,8, so the model gives the same colors at every size (not apply's --scale, which "
        "resizes outputs).",
    ),
    click.option(
        "--resume", is_flag=True, help="Continue an interrupted run from its saved state."
    ),
    device_option,
    overwrite_option,
    quiet_option,
]


def training_options(command: Callable) -> Callable:
    """Add the training options to ``command``, in the order ``--help`` lists them."""
    for option in reversed(_TRAINING_OPTIONS):
        command = option(command)
    return command
