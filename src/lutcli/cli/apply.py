"""``lutcli apply``: run a model or a LUT file over image files, clips and folders."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lutcli.cli.options import device_option, interp_option, overwrite_option, quiet_option
from lutcli.cli.progress import escape, print_markup, progress_bar, warn
from lutcli.clip_settings import DEFAULT_CRF, DEFAULT_TEMPORAL_SMOOTHING

if TYPE_CHECKING:  # imported when the command runs (torch only for a model)
    from lutcli.processing import Place

# File names a "left out" line lists before it only counts the rest.
LISTED_NAMES = 10


@click.command(short_help="Apply a model, a LUT file or a preset to images, clips or folders.")
# Text, not Path: IN and OUT may be URLs (s3://bucket/photos), which a Path would mangle.
@click.argument("source", metavar="IN", type=click.Path())
@click.argument("destination", metavar="OUT", type=click.Path())
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    help="A model file from `lutcli train`.",
)
@click.option(
    "--lut",
    "--cube",
    "lut_path",
    type=click.Path(path_type=Path),
    help="A LUT file: .cube (1D, 3D, shaper + 3D), Hald CLUT image (.png, .tif), .3dl, "
    ".spi3d, .spi1d or .csp, recognised by its content. --cube is the same option.",
)
@click.option(
    "--requirement",
    metavar="NAME",
    help="A named look: a preset (see `lutcli presets`), e.g. warm, film, auto.",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Resize the outputs by this factor, e.g. 0.5 or 1.5 (the look runs at the smaller "
    "size). Not train's --scales, the training pyramid.",
)
@click.option("-r", "--recursive", is_flag=True, help="Walk the subfolders of IN too.")
@click.option(
    "--jpeg-quality",
    type=click.IntRange(1, 100),
    default=95,
    show_default=True,
    help="Quality of JPEG and WebP outputs.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    help="Refuse photos (read or written) of more pixels than this, checked from the file's "
    "header before decoding [default: $LUTCLI_MAX_PIXELS, else 178956970, Pillow's limit].",
)
@click.option(
    "-j",
    "--jobs",
    "parallel_jobs",
    type=click.IntRange(min=1),
    help="Photos processed at once [default: one per core]; with --cluster local, its "
    "worker processes; with a scheduler's address, at most this many photos at once "
    "[default: twice the cluster's threads].",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    help="Spread the photos over a Dask cluster: its scheduler's address "
    "(tcp://scheduler:8786), or 'local' for worker processes on this machine. Needs "
    "pip install 'lutcli[cluster]' here and on the workers; plain paths must name the same "
    "files on every worker.",
)
@click.option(
    "--crf",
    type=click.IntRange(0, 63),
    help="Quality of re-encoded H.264, H.265, VP9 and AV1 clips, lower is better [default: "
    + ", ".join(f"{crf} for {encoder}" for encoder, crf in DEFAULT_CRF.items())
    + "]. ProRes keeps its profile.",
)
@click.option(
    "--video-bitrate",
    metavar="RATE",
    callback=lambda ctx, param, value: None if value is None else parse_bitrate(value),
    help="Encode clips at this bitrate instead of --crf's quality, in bits per second (e.g. "
    "20M, 8000k).",
)
@click.option(
    "--temporal-smoothing",
    metavar="SECONDS",
    type=click.FloatRange(min=0),
    default=DEFAULT_TEMPORAL_SMOOTHING,
    show_default=True,
    help="How long an image-adaptive model's look takes to follow a change within a shot of a "
    "clip (a time constant; 0: every frame its own LUT, which flickers). A scene cut starts "
    "afresh.",
)
@click.option(
    "--keep-partial",
    is_flag=True,
    help="On Ctrl-C, keep the frames of a clip graded so far as NAME.partial.EXT (it plays); "
    "without it, an interrupted clip leaves no file.",
)
@interp_option
@device_option
@overwrite_option
@quiet_option
def apply(
    source: str,
    destination: str,
    model_path: Path | None,
    lut_path: Path | None,
    requirement: str | None,
    scale: float,
    recursive: bool,
    jpeg_quality: int,
    max_pixels: int | None,
    parallel_jobs: int | None,
    cluster: str | None,
    crf: int | None,
    video_bitrate: int | None,
    temporal_smoothing: float,
    keep_partial: bool,
    interp: str,
    device: str,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Apply a look to IN (an image, a clip or a folder of them), writing to OUT (an image, a
    clip or a folder).

    Clips (.mp4, .mov, .mkv, .m4v, .webm) are re-encoded with their codec family, pixel format
    and bit depth, frame timing, rotation and colour tags; audio and subtitles are copied as
    they are. Formats, 8/16-bit depth, alpha, EXIF and ICC profiles are kept; existing outputs, and
    those another run writes meanwhile, are skipped unless --overwrite; an input is never
    overwritten. Photos are processed in parallel, --jobs at a time, with only those in
    memory, and none of more than --max-pixels. A file that cannot be read (or does not fit in
    memory) is reported and skipped, and the exit status is 1 at the end. IN and OUT may be
    fsspec URLs (s3://bucket/photos, gs://…, with s3fs, gcsfs… installed); --cluster spreads
    the photos over a Dask cluster, with the same guarantees.

    \b
      lutcli apply photos/ graded/ --model look.pt
      lutcli apply clip.mov graded.mov --lut film.cube
      lutcli apply photo.jpg graded.jpg --lut film.cube --interp tetrahedral
      lutcli apply photos/ graded/ --lut Fuji_Velvia_50.png
      lutcli apply photos/ fixed/ --requirement auto
      lutcli apply photos/ previews/ --requirement film --scale 0.25
      lutcli apply s3://bucket/raw s3://bucket/graded --model look.pt --cluster tcp://sched:8786
    """
    from lutcli.clip_settings import ClipSettings, EncodingSettings
    from lutcli.io.images import max_pixels_setting
    from lutcli.io.remote import location
    from lutcli.kernels.cpu import cpu_count
    from lutcli.looks import LookFile, open_look
    from lutcli.presets import find_preset
    from lutcli.processing import Job, cores_per_job, plan_jobs, process_jobs

    if sum(look is not None for look in (model_path, lut_path, requirement)) != 1:
        raise click.UsageError(
            "give exactly one look: --model MODEL.pt, --lut FILE or --requirement NAME"
        )
    if requirement is not None:
        preset = find_preset(requirement)
        model_path, lut_path = (preset.path, None) if preset.is_model else (None, preset.path)
    max_pixels = max_pixels or max_pixels_setting()  # a bad $LUTCLI_MAX_PIXELS: one line, once
    plan = plan_jobs(source, destination, recursive)
    jobs = plan.jobs
    if plan.left_out and not quiet:
        warn(left_out_line(plan.left_out, location(source)))
    kind, look_path = ("model", model_path) if model_path is not None else ("lut", lut_path)
    if cluster is None:
        parallel_jobs = parallel_jobs or cpu_count()
        look_device = "cpu"  # a LUT file's: the compiled kernel, without torch
        if kind == "model":
            import torch

            from lutcli.kernels.cuda import resolve_device

            # Parallel photos share the cores: an adaptive model's network gets its part.
            torch.set_num_threads(cores_per_job(parallel_jobs))
            look_device = resolve_device(device)
        look = open_look(kind, look_path, interp, look_device)
    else:  # read here, once, so that a bad file is named by its own path; the workers get it
        look = open_look(kind, look_path, interp, "cpu")
        look_file = LookFile.read(kind, look_path, interp)
    if not quiet:
        for note in look.notes:  # what reading the look's file passed over
            warn(note)
    encoding = EncodingSettings(crf, video_bitrate)
    clip_settings = ClipSettings(encoding, temporal_smoothing, keep_partial)
    with progress_bar(quiet) as progress:
        task = progress.add_task("applying", total=len(jobs), detail="")
        clip_tasks = {}  # a bar of frames for each clip being graded
        clip_tasks_lock = threading.Lock()

        def on_frame(job: Job, done: int, total: int) -> None:
            with clip_tasks_lock:
                if job not in clip_tasks:
                    name = job.source.name
                    clip_tasks[job] = progress.add_task("  frames", total=total, detail=name)
            progress.update(clip_tasks[job], completed=done, total=max(total, done))

        def on_done(job: Job, outcome: str, message: str) -> None:
            with clip_tasks_lock:
                if job in clip_tasks:
                    progress.remove_task(clip_tasks.pop(job))
            progress.update(task, advance=1, detail=job.source.name)
            if not message:
                return
            if outcome == "written":  # what reading left out or changed
                warn(f"{job.source}: {message}")
            else:
                color = "red" if outcome == "failed" else "yellow"
                print_markup(f"[{color}]skipped:[/] {escape(message)}")

        if cluster is None:
            summary = process_jobs(
                look,
                jobs,
                overwrite,
                jpeg_quality,
                scale,
                on_done,
                parallel_jobs,
                max_pixels,
                clip_settings,
                on_frame,
            )
        else:  # Dask is imported only here: the other commands do not pay for it
            from lutcli.cluster import (
                LOCAL,
                connect,
                process_jobs_on_cluster,
                remove_temp_files_left,
            )

            local = cluster == LOCAL
            try:
                with connect(cluster, parallel_jobs if local else None) as client:
                    summary = process_jobs_on_cluster(
                        client,
                        look_file,
                        jobs,
                        overwrite,
                        jpeg_quality,
                        scale,
                        on_done,
                        None if local else parallel_jobs,
                        max_pixels,
                        device,
                        clip_settings,
                    )
            finally:
                remove_temp_files_left(jobs)
    if not quiet:
        existing = (
            f", {summary.skipped} already there (--overwrite replaces)" if summary.skipped else ""
        )
        click.echo(f"{summary.written} written to {location(destination)}{existing}")
    if summary.failed:
        raise click.ClickException(
            f"{len(summary.failed)} of {len(jobs)} files could not be processed"
        )


def parse_bitrate(text: str) -> int:
    """ "20M" → 20_000_000, "8000k" → 8_000_000, "5e6" → 5_000_000 bits per second."""
    multiplier = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(text[-1:].lower(), 1)
    number = text[:-1] if multiplier > 1 else text
    try:
        bitrate = round(float(number) * multiplier)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a bitrate such as 20M or 8000k") from None
    if bitrate <= 0:
        raise click.BadParameter(f"{text!r}: a bitrate is above 0")
    return bitrate


def left_out_line(paths: list[Place], folder: Place) -> str:
    """One line naming the files of ``folder`` that apply does not read (relative to it)."""
    count = len(paths)
    names = ", ".join(str(path.relative_to(folder)) for path in paths[:LISTED_NAMES])
    more = f" and {count - LISTED_NAMES} more" if count > LISTED_NAMES else ""
    files = "file" if count == 1 else "files"
    return f"left out {count} {files} lutcli does not read: {names}{more}"
