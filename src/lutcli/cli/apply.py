"""``lutcli apply``: run a model or a .cube over image files and folders."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from lutcli.cli.options import device_option, interp_option, overwrite_option, quiet_option
from lutcli.cli.progress import progress_bar, stderr


@click.command(short_help="Apply a model or a .cube to images or folders.")
@click.argument("source", metavar="IN", type=click.Path(path_type=Path))
@click.argument("destination", metavar="OUT", type=click.Path(path_type=Path))
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    help="A model file from `lutcli train`.",
)
@click.option(
    "--cube",
    "cube_path",
    type=click.Path(path_type=Path),
    help="A .cube LUT file (1D, 3D, or shaper + 3D).",
)
@click.option("-r", "--recursive", is_flag=True, help="Walk the subfolders of IN too.")
@click.option(
    "--jpeg-quality",
    type=click.IntRange(1, 100),
    default=95,
    show_default=True,
    help="Quality of JPEG and WebP outputs.",
)
@interp_option
@device_option
@overwrite_option
@quiet_option
def apply(
    source: Path,
    destination: Path,
    model_path: Path | None,
    cube_path: Path | None,
    recursive: bool,
    jpeg_quality: int,
    interp: str,
    device: str,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Apply a look to IN (an image or a folder), writing to OUT (an image or a folder).

    Formats, 8/16-bit depth, alpha, EXIF and ICC profiles are kept; existing outputs are
    skipped unless --overwrite; an input is never overwritten. A file that cannot be read is
    reported and skipped, and the exit status is 1 at the end.

    \b
      lutcli apply photos/ graded/ --model look.pt
      lutcli apply photo.jpg graded.jpg --cube film.cube --interp tetrahedral
    """
    from lutcli.lut.cube import read_cube
    from lutcli.models.files import load_model
    from lutcli.processing import Job, cube_look, model_look, plan_jobs, process_jobs
    from lutcli.training.trainer import resolve_device

    if (model_path is None) == (cube_path is None):
        raise click.UsageError("give exactly one look: --model MODEL.pt or --cube FILE.cube")
    jobs = plan_jobs(source, destination, recursive)
    target = resolve_device(device)
    if model_path is not None:
        look = model_look(load_model(model_path)[0], interp, target)
    else:
        look = cube_look(read_cube(cube_path), interp, target)
    with progress_bar(quiet) as progress:
        task = progress.add_task("applying", total=len(jobs), detail="")

        def on_done(job: Job, outcome: str, message: str) -> None:
            # File names are text, not rich markup: "photo [edit].jpg" must print as it is.
            progress.update(task, advance=1, detail=escape(job.source.name))
            if message:
                stderr.print(f"[red]skipped:[/] {escape(message)}", highlight=False, soft_wrap=True)

        summary = process_jobs(look, jobs, overwrite, jpeg_quality, on_done)
    if not quiet:
        existing = (
            f", {summary.skipped} already there (--overwrite replaces)" if summary.skipped else ""
        )
        click.echo(f"{summary.written} written to {destination}{existing}")
    if summary.failed:
        raise click.ClickException(
            f"{len(summary.failed)} of {len(jobs)} images could not be processed"
        )
