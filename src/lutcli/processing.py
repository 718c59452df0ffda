"""Applying a look (a model or a LUT file) to image files, clips and folders.

The library behind ``lutcli apply``: planning which file goes where, and processing each one so
that inputs are never overwritten, outputs appear whole or not at all (and never replace a file
unless asked), and one bad file does not stop the rest.

Memory is bounded by the pixel limit, not by the photos: the look runs in place on the decoded
8 or 16-bit pixels (``lutcli.looks``), and resizing works on them in their integer type. Clips
are graded a frame at a time (``lutcli.video``).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lutcli.clip_settings import DEFAULT_CLIP_SETTINGS, ClipSettings
from lutcli.errors import LutcliError, is_out_of_memory, os_error_message
from lutcli.fileutil import DestinationExistsError
from lutcli.io import remote
from lutcli.io.folders import FolderContents, is_clip_path, is_readable_path, scan_folder
from lutcli.io.images import (
    SUPPORTED_EXTENSIONS,
    max_pixels_setting,
    over_pixel_limit,
    read_image,
    write_image,
)
from lutcli.io.pixels import resize_pixels
from lutcli.io.remote import RemotePath
from lutcli.io.video import VIDEO_EXTENSIONS
from lutcli.kernels import cpu as kernels_cpu
from lutcli.looks import Look
from lutcli.video import process_clip

# A file or folder given to apply: a local path, or an fsspec URL (lutcli.io.remote).
Place = Path | RemotePath
# How often the main thread, waiting for parallel jobs, wakes to let an interrupt through.
INTERRUPT_CHECK_SECONDS = 0.1


@dataclass(frozen=True)
class Job:
    """One image or clip to process: where it is read from and where its result goes, each a
    local path or a URL."""

    source: Place
    destination: Place


@dataclass(frozen=True)
class Plan:
    """The jobs of a run, and the files of its folder that it leaves out (other types, broken
    links), for the user to see."""

    jobs: list[Job]
    left_out: list[Path] = field(default_factory=list)


def plan_jobs(
    source: str | os.PathLike | RemotePath,
    destination: str | os.PathLike | RemotePath,
    recursive: bool,
) -> Plan:
    """Pair every input image and clip with its output path.

    A file goes to ``destination`` (or into it, when it is a folder). A folder's images and
    clips go to the
    same relative paths under ``destination``; with ``recursive`` subfolders are walked, leaving
    out ``destination`` itself when it lies inside ``source``. Raises LutcliError when there is
    nothing to do or when an output would replace an input. Either may be an fsspec URL
    (``s3://bucket/photos``; see lutcli.io.remote).
    """
    left_out: list[Place] = []
    source, destination = _place(source), _place(destination)
    if source.is_file():
        if not is_readable_path(source, clips=True):
            raise LutcliError(
                f"'{source}' is not an image or a clip lutcli reads ({_extensions()})"
            )
        target = destination / source.name if destination.is_dir() else destination
        if is_clip_path(source) and target.suffix.lower() not in VIDEO_EXTENSIONS:
            raise LutcliError(
                f"cannot write the clip '{source}' as '{target}': not a clip container "
                f"({', '.join(sorted(VIDEO_EXTENSIONS))})"
            )
        if not is_clip_path(source) and target.suffix.lower() not in SUPPORTED_EXTENSIONS:
            raise LutcliError(
                f"cannot write '{target}': unknown image type "
                f"({', '.join(sorted(SUPPORTED_EXTENSIONS))})"
            )
        jobs = [Job(source, target)]
    elif source.is_dir():
        if destination.exists() and not destination.is_dir():
            raise LutcliError(f"'{destination}' is a file; the output of a folder is a folder")
        if _same_path(source, destination):
            raise LutcliError(
                f"the output folder is the input folder '{source}': that would overwrite the "
                "input images; choose another output folder"
            )
        contents = _scan_folder(source, recursive)
        images, left_out = contents.files, contents.left_out
        outputs = destination.resolve()
        if _inside(outputs, source.resolve()):  # not when OUT is above IN: all would go
            images = [path for path in images if not _inside(path.resolve(), outputs)]
            left_out = [path for path in left_out if not _inside(path.parent.resolve(), outputs)]
        if not images:
            where = "or its subfolders " if recursive else ""
            raise LutcliError(f"no images or clips in '{source}' {where}({_extensions()})")
        jobs = [Job(path, destination / path.relative_to(source)) for path in images]
    else:
        raise LutcliError(f"no such file or folder: '{source}'")
    # Any input, not only a job's own: with IN=photos/raw and OUT=photos, the output of
    # photos/raw/raw/x.png would be the input photos/raw/x.png.
    inputs = {job.source.resolve(): job.source for job in jobs}
    for job in jobs:
        overwritten = inputs.get(job.destination.resolve())
        if overwritten == job.source:
            raise LutcliError(f"'{job.source}' would be overwritten by its own output")
        if overwritten is not None:
            raise LutcliError(
                f"the output of '{job.source}' would overwrite the input '{overwritten}'; "
                "choose another output folder"
            )
    return Plan(jobs, left_out)


def _place(name: str | os.PathLike | RemotePath) -> Place:
    return name if isinstance(name, RemotePath) else remote.location(name)


def _scan_folder(folder: Place, recursive: bool) -> FolderContents:
    if isinstance(folder, RemotePath):
        return remote.scan_folder(folder, recursive, clips=True)
    return scan_folder(folder, recursive, clips=True)


def _inside(place: Place, folder: Place) -> bool:
    """Whether ``place`` is ``folder`` or lies inside it (never for places of two kinds)."""
    if isinstance(place, RemotePath):
        return place.is_relative_to(folder)
    return isinstance(folder, Path) and place.is_relative_to(folder)


def _same_path(a: Place, b: Place) -> bool:
    return a.resolve() == b.resolve()


def _extensions() -> str:
    return ", ".join(sorted(SUPPORTED_EXTENSIONS | VIDEO_EXTENSIONS))


class DecodeBuffers:
    """The pixels of each worker thread's last photo, kept for its next one: a photo of the same
    size is decoded into them, which saves allocating and zeroing them (36 MB for a 12 MP
    photo). One array per thread at most, dropped with the run."""

    def __init__(self) -> None:
        self._pixels: dict[int, np.ndarray] = {}

    def take(self) -> np.ndarray | None:
        """This thread's array, which it then holds alone; None at its first photo."""
        return self._pixels.pop(threading.get_ident(), None)

    def keep(self, pixels: np.ndarray) -> None:
        """Hand ``pixels``, done with, to this thread's next photo."""
        self._pixels[threading.get_ident()] = pixels


def process_image(
    look: Look,
    job: Job,
    jpeg_quality: int = 95,
    scale: float = 1.0,
    threads: int | None = None,
    replace: bool = True,
    max_pixels: int | None = None,
    buffers: DecodeBuffers | None = None,
) -> list[str]:
    """Read, apply the look, and write atomically, keeping bit depth, alpha and metadata. Returns
    the notes of the reading (what it left out or changed), for the user.

    ``scale`` resizes the output. The look runs at the smaller of the two sizes: a shrunk
    picture is resampled first (an adaptive look still sees the whole photo, so it chooses the
    colors it would at full size), an enlarged one after. A JPEG shrunk to half or less is
    decoded at 1/2, 1/4 or 1/8 of each side to begin with (``read_image``'s ``shrink_to``).
    ``threads``: cores for the LUT kernel (default: all). With ``replace`` False an existing
    output is kept and DestinationExistsError raised. Inputs and outputs of more than
    ``max_pixels`` pixels (default: ``max_pixels_setting()``) are refused. Either file may be a
    URL (RemotePath). ``buffers``: where a run keeps each thread's decoded pixels for its next
    photo.
    """
    if isinstance(job.source, RemotePath) or isinstance(job.destination, RemotePath):
        return _through_local_files(
            job,
            lambda local: process_image(
                look, local, jpeg_quality, scale, threads, replace, max_pixels, buffers
            ),
            replace,
        )
    if scale <= 0:
        raise LutcliError(f"the scale must be above 0, got {scale:g}")
    limit = max_pixels_setting() if max_pixels is None else max_pixels
    # Decoded in OpenCV's own channel order: decoding and encoding skip a conversion each; a
    # JPEG shrunk for a preview, smaller already (in its decoder).
    into = None if buffers is None else buffers.take()
    picture = read_image(job.source, "BGR", limit, shrink_to=min(scale, 1.0), into=into)
    pixels, order = picture.pixels, picture.channel_order
    height, width = picture.full_size or pixels.shape[:2]
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    too_large = over_pixel_limit(size[1], size[0], limit)
    if too_large is not None:
        raise LutcliError(f"cannot write '{job.destination}': scaled by {scale:g}, {too_large}")
    # An adaptive look sees the whole photo, even when it runs on a smaller one.
    context = look.picture_context(pixels, order)
    pixels = resize_pixels(pixels, size) if scale < 1 else pixels
    # In place: the decoded pixels are this function's own.
    look.apply(pixels, context, channel_order=order, threads=threads, out=pixels)
    pixels = resize_pixels(pixels, size)  # enlarging: after the look
    alpha = None if picture.alpha is None else resize_pixels(picture.alpha, size)
    output = dataclasses.replace(picture, pixels=pixels, alpha=alpha)
    job.destination.parent.mkdir(parents=True, exist_ok=True)
    write_image(job.destination, output, jpeg_quality, replace)
    if buffers is not None:
        buffers.keep(picture.pixels)
    return picture.notes


def process_clip_job(
    look: Look,
    job: Job,
    settings: ClipSettings = DEFAULT_CLIP_SETTINGS,
    threads: int | None = None,
    replace: bool = True,
    on_frame: Callable[[int, int], None] = lambda done, total: None,
) -> list[str]:
    """``lutcli.video.process_clip`` for a job, whose files may be URLs (RemotePath)."""
    if isinstance(job.source, RemotePath) or isinstance(job.destination, RemotePath):
        return _through_local_files(
            job,
            lambda local: process_clip_job(look, local, settings, threads, replace, on_frame),
            replace,
        )
    return process_clip(look, job.source, job.destination, settings, threads, replace, on_frame)


def _through_local_files(job: Job, process: Callable[[Job], list[str]], replace: bool) -> list[str]:
    """``process`` a job with a URL on local files: a remote input is processed from a local
    copy, a remote output is written to a local file and then uploaded (lutcli.io.remote;
    ``replace`` as for ``process_image``).
    Only one file's copies are on the local disk at a time; messages and notes name the
    URLs."""
    with tempfile.TemporaryDirectory(prefix="lutcli-") as folder:
        source, destination = job.source, job.destination
        if isinstance(source, RemotePath):  # the same name: the same type, the same notes
            source = Path(folder, "in", source.name)
            source.parent.mkdir()
            remote.download(job.source, source)
        if isinstance(destination, RemotePath):
            destination = Path(folder, "out", destination.name)
        local = Job(source, destination)

        def named(text: str) -> str:
            text = text.replace(str(local.source), str(job.source))
            return text.replace(str(local.destination), str(job.destination))

        try:
            notes = process(local)
        except LutcliError as error:
            raise type(error)(named(str(error))) from None
        if isinstance(job.destination, RemotePath):
            remote.upload(destination, job.destination, replace)
        return [named(note) for note in notes]


@dataclass
class Summary:
    """What a run over many images did."""

    written: int = 0
    skipped: int = 0
    failed: list[tuple[Place, str]] = field(default_factory=list)

    def record(self, job: Job, outcome: str, message: str) -> None:
        """Count a job's outcome ("written", "skipped" or "failed", as ``run_job`` gives)."""
        if outcome == "written":
            self.written += 1
        elif outcome == "skipped":
            self.skipped += 1
        else:
            self.failed.append((job.source, message))


def cores_per_job(parallel_jobs: int) -> int:
    """The cores each of ``parallel_jobs`` photos processed at once gets (at least one)."""
    return max(1, kernels_cpu.cpu_count() // parallel_jobs)


def is_done(job: Job, overwrite: bool) -> bool:
    """Whether a run leaves ``job`` out: its output is there, and not to be replaced."""
    return not overwrite and job.destination.exists()


def run_job(
    look: Look,
    job: Job,
    overwrite: bool = False,
    jpeg_quality: int = 95,
    scale: float = 1.0,
    threads: int | None = None,
    max_pixels: int | None = None,
    clip_settings: ClipSettings = DEFAULT_CLIP_SETTINGS,
    on_frame: Callable[[int, int], None] = lambda done, total: None,
    buffers: DecodeBuffers | None = None,
) -> tuple[str, str]:
    """Process one job of a run (``process_image``, with ``buffers``, or ``process_clip_job``
    for a clip, which ``on_frame(done, total)`` follows) and say how it went, as (outcome,
    message) for ``process_jobs``'s ``on_done``: a file that cannot be read or written, or that
    does not fit in memory, is an outcome, not an exception."""
    try:
        if not is_clip_path(job.source):
            settings = (jpeg_quality, scale, threads, overwrite, max_pixels, buffers)
            notes = process_image(look, job, *settings)
        elif scale != 1:
            raise LutcliError(f"'{job.source}' is a clip: --scale resizes photos only")
        else:
            notes = process_clip_job(look, job, clip_settings, threads, overwrite, on_frame)
        return "written", "; ".join(notes)
    except DestinationExistsError:
        return (
            "skipped",
            f"'{job.destination}' appeared meanwhile and is kept (--overwrite replaces)",
        )
    except LutcliError as error:
        return "failed", str(error)
    except OSError as error:
        return "failed", os_error_message(error)
    except (MemoryError, RuntimeError) as error:  # torch's CPU allocator: a RuntimeError
        if not is_out_of_memory(error):
            raise
        return "failed", f"cannot process '{job.source}': not enough memory (try fewer --jobs)"


def process_jobs(
    look: Look,
    jobs: list[Job],
    overwrite: bool = False,
    jpeg_quality: int = 95,
    scale: float = 1.0,
    on_done: Callable[[Job, str, str], None] = lambda job, outcome, message: None,
    parallel_jobs: int = 1,
    max_pixels: int | None = None,
    clip_settings: ClipSettings = DEFAULT_CLIP_SETTINGS,
    on_frame: Callable[[Job, int, int], None] = lambda job, done, total: None,
) -> Summary:
    """Process every job; existing outputs are skipped unless ``overwrite``, and so are those
    that appear while the run goes on (another run writing into the same folder). Clips are
    graded with ``clip_settings``, and ``on_frame(job, done, total)`` follows their frames
    (on the thread processing the clip).

    A file that cannot be read or written, or that does not fit in memory, is recorded in the
    summary and the rest go on. ``on_done(job, outcome, message)`` follows each job, one call
    at a time (with parallel jobs, on the thread that schedules them): outcome "written"
    (message: what reading left out or changed, or ""), "skipped" (message: why, or "" for an
    output there from the start) or "failed" (message: the error). ``max_pixels`` as for
    ``process_image``.

    ``parallel_jobs`` images are processed at once, each on its own thread: decoding, the LUT
    kernel and encoding release the GIL, so one photo's decoding overlaps another's encoding
    on every core. Only that many photos are in memory at a time, whatever the folder size.
    An interrupt lets the photos started finish, stops the clips started at their next frame
    (see ``process_clip`` for what they leave), and starts nothing more.
    """
    summary = Summary()
    todo = []
    for job in jobs:
        if is_done(job, overwrite):
            summary.skipped += 1
            on_done(job, "skipped", "")
        else:
            todo.append(job)
    parallel_jobs = max(1, min(parallel_jobs, len(todo)))
    threads = cores_per_job(parallel_jobs)

    stop = threading.Event()  # set by an interrupt: nothing more starts
    buffers = DecodeBuffers()  # each thread's photos decoded into the same pixels

    def run(job: Job) -> tuple[str, str]:
        def frame_done(done: int, total: int) -> None:
            if stop.is_set():  # a clip ends at its next frame, as the interrupt asks
                raise KeyboardInterrupt
            on_frame(job, done, total)

        settings = (jpeg_quality, scale, threads, max_pixels, clip_settings)
        return run_job(look, job, overwrite, *settings, frame_done, buffers)

    def record(job: Job, outcome: str, message: str) -> None:
        summary.record(job, outcome, message)
        on_done(job, outcome, message)

    if parallel_jobs == 1:
        for job in todo:
            record(job, *run(job))
        return summary
    done = threading.Event()
    failures: list[BaseException] = []

    def schedule() -> None:
        waiting = iter(todo)
        try:
            with ThreadPoolExecutor(parallel_jobs) as pool:
                first = itertools.islice(waiting, parallel_jobs)
                running = {pool.submit(run, job): job for job in first}
                try:
                    while running:
                        finished, _ = wait(running, return_when=FIRST_COMPLETED)
                        for future in finished:
                            record(running.pop(future), *future.result())
                            job = None if stop.is_set() else next(waiting, None)
                            if job is not None:
                                running[pool.submit(run, job)] = job
                except BaseException as error:  # a bug: the photos not started stay unstarted
                    failures.append(error)
                    for future in running:
                        future.cancel()
        finally:
            done.set()  # every photo started has finished: the pool has shut down

    # The futures and their locks are handled on a thread of their own, never on the main
    # thread, where Python raises an interrupt: one landing inside concurrent.futures.wait can
    # leave a future's lock held, and the pool then waits for its worker forever. The main
    # thread waits on an Event, not on Thread.join: a join interrupted by a signal marks the
    # thread ended while it still runs (CPython 3.11), and the next join returned at once, so
    # the process left while photos were half-written. It waits in short slices: the kernel
    # may deliver Ctrl-C to any thread (an encoder's, the kernel's), which does not wake a
    # main thread blocked for good, and Python runs the handler only when the main thread
    # wakes; a wait without end then let every clip run to its end before the interrupt.
    scheduler = threading.Thread(target=schedule, name="lutcli-jobs")
    try:
        scheduler.start()  # an interrupt may land here too, once the thread runs
        while not done.wait(INTERRUPT_CHECK_SECONDS):
            pass
    except BaseException:  # an interrupt: the photos started finish, no other starts
        stop.set()
        if scheduler.ident is not None:  # the scheduler thread runs
            done.wait()
        raise
    scheduler.join()
    if failures:
        raise failures[0]
    return summary
