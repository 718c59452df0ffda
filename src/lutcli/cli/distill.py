"""``lutcli distill``: train a LUT model to reproduce a slow filter or model (the teacher)."""

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


@click.command(short_help="Learn a look from a teacher (command, .cube, model) on photos.")
@click.argument("images", type=click.Path(path_type=Path))
@click.option(
    "--teacher",
    required=True,
    metavar="SPEC",
    help="What makes the ground truth: 'cmd:PROGRAM ... {input} ... {output}', a .cube file, "
    "a lutcli model file or a TorchScript file.",
)
@output_option("Model file to write (.pt).")
@click.option(
    "--probe",
    is_flag=True,
    help="Also teach on an identity Hald image, so every LUT cell is learned "
    "(for teachers that map each color alone).",
)
@click.option(
    "--teacher-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds a command teacher may take on one picture.",
)
@click.option("--recursive", "-r", is_flag=True, help="Also take pictures in subfolders.")
@training_options
def distill(
    images: Path,
    teacher: str,
    output: Path,
    probe: bool,
    teacher_timeout: float,
    cache_root: Path | None,
    frames: int,
    recursive: bool,
    model_name: str,
    lut_size: int,
    model_options: dict[str, object],
    resume: bool,
    overwrite: bool,
    device: str,
    quiet: bool,
    **training: object,
) -> None:
    """Train a model on what the teacher makes of the pictures in IMAGES: its photos, and
    --frames frames of each clip.

    The teacher runs once per picture; its outputs are cached, so a second run with the same
    teacher (same file, same command) goes straight to training. Pictures it fails on are
    reported and left out.

    \b
      lutcli distill photos/ -o look.pt --probe \\
        --teacher 'cmd:ffmpeg -v error -y -i {input} -vf eq=saturation=1.3 {output}'
      lutcli distill photos/ --teacher film.cube -o film.pt
      lutcli distill photos/ --teacher auto.pt --model basic -o auto-basic.pt
    """
    from lutcli.distillation.distill import distill_folder
    from lutcli.distillation.teachers import parse_teacher

    options = TrainingOptions(**training)
    the_teacher = parse_teacher(teacher, teacher_timeout)
    with progress_bar(quiet) as progress:
        teaching = progress.add_task("teacher", total=None, detail="")
        shown = TrainingProgress(progress, gpu_in_use(device))

        def on_taught(done: int, total: int) -> None:
            progress.update(teaching, completed=done, total=total)

        distillation = distill_folder(
            the_teacher,
            images,
            output,
            probe=probe,
            cache_root=cache_root,
            recursive=recursive,
            warn=warn,
            on_taught=on_taught,
            frames=frames,
            model_name=model_name,
            lut_size=lut_size,
            model_options=model_options,
            options=options,
            device=device,
            resume=resume,
            overwrite=overwrite,
            on_status=shown.on_status,
            on_prepared=shown.on_prepared,
        )
    if not quiet:
        made = distillation.pictures - distillation.from_cache - len(distillation.failed)
        click.echo(
            f"ground truth: {distillation.pictures} pictures, {made} taught, "
            f"{distillation.from_cache} from the cache, {len(distillation.failed)} skipped"
        )
        echo_training_summary(distillation.training, output)
