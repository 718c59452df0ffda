"""Applying a look (a model or a .cube file) to image files and folders.

The library behind ``lutcli apply``: planning which file goes where, and processing each one so
that inputs are never overwritten, outputs appear whole or not at all, and one bad file does
not stop the rest.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from lutcli.errors import LutcliError
from lutcli.io.folders import is_image_path, list_images
from lutcli.io.images import SUPPORTED_EXTENSIONS, from_tensor, read_image, to_tensor, write_image
from lutcli.kernels import cpu as kernels_cpu
from lutcli.lut.cube import CubeFile
from lutcli.lut.interpolate import apply_lut
from lutcli.models.base import LutModel
from lutcli.models.export import sample_lut
from lutcli.models.networks import fix_picture_size

# A look maps (1, 3, H, W) float RGB in [0, 1] to the same shape; the optional second argument
# is the whole picture that image-adaptive models look at (default: the image itself).
Look = Callable[..., torch.Tensor]


class LutLook:
    """A look that is one 3D LUT per picture: every model, and a .cube without a 1D part.

    ``picture_lut(context)`` gives the (3, D, D, D) LUT for the whole picture ``context``
    (None for a look that is the same for every picture). ``apply`` runs that LUT over decoded
    pixels with the compiled kernel, which is what ``lutcli apply`` writes; called with a
    tensor, the look gives the same colors in float.
    """

    def __init__(
        self,
        picture_lut: Callable[[torch.Tensor | None], torch.Tensor],
        adaptive: bool,
        interp: str,
        device: torch.device,
    ) -> None:
        self.picture_lut = picture_lut
        self.adaptive = adaptive
        self.interp = interp
        self.device = device
        self._fixed_lut = None if adaptive else picture_lut(None)

    def lut_for(self, context: torch.Tensor | None) -> torch.Tensor:
        """The LUT for the picture ``context`` (ignored by a look that is not adaptive)."""
        return self.picture_lut(context) if self.adaptive else self._fixed_lut

    def __call__(self, image: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        lut = self.lut_for(image if context is None else context).to(self.device)
        return apply_lut(image.to(self.device), lut, self.interp).cpu()

    def apply(
        self,
        pixels: np.ndarray,
        context: torch.Tensor | None = None,
        threads: int | None = None,
        out: np.ndarray | None = None,
        channel_order: str = "RGB",
    ) -> np.ndarray:
        """(H, W, 3) pixels, uint8, uint16 or float32 in [0, 1], through the LUT for the
        picture ``context`` ((1, 3, H, W) as ``to_tensor`` gives it; default: the pixels
        themselves), in the same type. ``channel_order`` ("RGB" or "BGR") is that of the pixels,
        the result and the context. ``out`` may be ``pixels`` (in place).
        """
        whole = None
        if self.adaptive:
            # Size-fixed here, as the model would, so that putting the channels in RGB order
            # copies 256² pixels, not the photo.
            whole = fix_picture_size(to_tensor(pixels) if context is None else context)
            whole = whole.flip(1) if channel_order == "BGR" else whole
        lut = self.lut_for(whole)
        if channel_order == "BGR":  # the same LUT with its axes and outputs in BGR order
            lut = lut.flip(0).permute(0, 3, 2, 1)
        if self.device.type == "cpu" and kernels_cpu.available():
            return kernels_cpu.apply_to_pixels(pixels, lut, self.interp, threads, out)
        kernels_cpu.notice_fallback()
        if pixels.dtype == np.float32:
            image = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0)
            mapped = apply_lut(image.to(self.device), lut.to(self.device), self.interp)
            result = mapped[0].permute(1, 2, 0).cpu().numpy()
        else:
            image = to_tensor(pixels).to(self.device)
            mapped = apply_lut(image, lut.to(self.device), self.interp)
            result = from_tensor(mapped, pixels.dtype)
        if out is None:
            return result
        out[...] = result
        return out


def model_look(model: LutModel, interp: str, device: torch.device) -> LutLook:
    """A look that runs ``model`` on ``device``: each picture gets the LUT the model gives it
    (``sample_lut``, the same table ``export-cube --image`` writes), adaptive models seeing
    the whole picture."""
    model = model.to(device).eval()
    model.set_interp(interp)

    def picture_lut(context: torch.Tensor | None) -> torch.Tensor:
        return sample_lut(model, model.lut_size, None if context is None else context.to(device))

    return LutLook(picture_lut, model.adaptive, interp, device)


def cube_look(cube: CubeFile, interp: str, device: torch.device) -> Look:
    """A look that applies a .cube file (1D, 3D, or shaper + 3D); a plain 3D table is a
    LutLook, run by the compiled kernel."""
    device = torch.device(device)
    table = cube.lut3d
    if cube.shaper is None and table is not None and table.has_default_domain:
        lut = torch.from_numpy(table.table)
        return LutLook(lambda context: lut, False, interp, device)

    @torch.no_grad()
    def look(image: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return cube.apply(image.to(device), interp).cpu()  # the same colors for any picture

    return look


@dataclass(frozen=True)
class Job:
    """One image to process: where it is read from and where its result goes."""

    source: Path
    destination: Path


def plan_jobs(
    source: str | os.PathLike, destination: str | os.PathLike, recursive: bool
) -> list[Job]:
    """Pair every input image with its output path.

    A file goes to ``destination`` (or into it, when it is a folder). A folder's images go to the
    same relative paths under ``destination``; with ``recursive`` subfolders are walked, leaving
    out ``destination`` itself when it lies inside ``source``. Raises LutcliError when there is
    nothing to do or when an output would replace an input.
    """
    source, destination = Path(source), Path(destination)
    if source.is_file():
        if not is_image_path(source):
            raise LutcliError(f"'{source}' is not an image lutcli reads ({_extensions()})")
        target = destination / source.name if destination.is_dir() else destination
        if target.suffix.lower() not in SUPPORTED_EXTENSIONS:
            raise LutcliError(f"cannot write '{target}': unknown image type ({_extensions()})")
        jobs = [Job(source, target)]
    elif source.is_dir():
        if destination.exists() and not destination.is_dir():
            raise LutcliError(f"'{destination}' is a file; the output of a folder is a folder")
        if _same_path(source, destination):
            raise LutcliError(
                f"the output folder is the input folder '{source}': that would overwrite the "
                "input images; choose another output folder"
            )
        images = list_images(source, recursive)
        outputs = destination.resolve()
        if outputs.is_relative_to(source.resolve()):  # not when OUT is above IN: all would go
            images = [path for path in images if not path.resolve().is_relative_to(outputs)]
        if not images:
            where = "or its subfolders " if recursive else ""
            raise LutcliError(f"no images in '{source}' {where}({_extensions()})")
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
    return jobs


def _same_path(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _extensions() -> str:
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


def process_image(
    look: Look, job: Job, jpeg_quality: int = 95, scale: float = 1.0, threads: int | None = None
) -> None:
    """Read, apply the look, and write atomically, keeping bit depth, alpha and metadata.

    ``scale`` resizes the output. The look runs at the smaller of the two sizes: a shrunk
    picture is resampled first (an adaptive look still sees the whole photo, so it chooses the
    colors it would at full size), an enlarged one after. ``threads``: cores for the LUT
    kernel (default: all).
    """
    if scale <= 0:
        raise LutcliError(f"the scale must be above 0, got {scale:g}")
    fast = isinstance(look, LutLook)
    # A LutLook takes OpenCV's own channel order: decoding and encoding skip a conversion each.
    picture = read_image(job.source, "BGR" if fast else "RGB")
    pixels = picture.pixels
    height, width = pixels.shape[:2]
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    shrinking = scale < 1
    order = picture.channel_order
    if fast and shrinking:  # the LUT runs on the resampled float colors
        image = to_tensor(pixels)
        small = resize(image, size)[0].permute(1, 2, 0).contiguous().numpy()
        result = look.apply(small, image, threads, small, order)
        result = from_tensor(torch.from_numpy(result).permute(2, 0, 1), pixels.dtype)
    elif fast:  # in place: the decoded pixels are this function's own
        result = look.apply(pixels, None, threads, pixels, order)
    else:
        image = to_tensor(pixels)
        source = resize(image, size) if shrinking else image
        result = from_tensor(look(source, image) if shrinking else look(source), pixels.dtype)
    if result.shape[:2] != size:  # enlarging: after the look
        result = resize_pixels(result, size)
    alpha = picture.alpha
    if alpha is not None and alpha.shape != size:
        resampling = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
        alpha = cv2.resize(alpha, (size[1], size[0]), interpolation=resampling)
    output = dataclasses.replace(picture, pixels=result, alpha=alpha)
    job.destination.parent.mkdir(parents=True, exist_ok=True)
    write_image(job.destination, output, jpeg_quality)


def resize_pixels(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``resize`` for (H, W, 3) uint8 or uint16 pixels, rounded back to their type."""
    return from_tensor(resize(to_tensor(pixels), size), pixels.dtype)


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] to (N, 3, *size): antialiased when shrinking, bicubic when
    enlarging (clamped, since bicubic overshoots at edges)."""
    if size[0] <= image.shape[-2] and size[1] <= image.shape[-1]:
        return F.interpolate(image, size=size, mode="bilinear", antialias=True)
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False).clamp(0, 1)


@dataclass
class Summary:
    """What a run over many images did."""

    written: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)


def cores_per_job(parallel_jobs: int) -> int:
    """The cores each of ``parallel_jobs`` photos processed at once gets (at least one)."""
    return max(1, kernels_cpu.cpu_count() // parallel_jobs)


def process_jobs(
    look: Look,
    jobs: list[Job],
    overwrite: bool = False,
    jpeg_quality: int = 95,
    scale: float = 1.0,
    on_done: Callable[[Job, str, str], None] = lambda job, outcome, message: None,
    parallel_jobs: int = 1,
) -> Summary:
    """Process every job; existing outputs are skipped unless ``overwrite``.

    A file that cannot be read or written is recorded in the summary and the rest go on.
    ``on_done(job, outcome, message)`` follows each job, on the calling thread: outcome
    "written", "skipped" or "failed", with the error message when it failed.

    ``parallel_jobs`` images are processed at once, each on its own thread: decoding, the LUT
    kernel and encoding release the GIL, so one photo's decoding overlaps another's encoding
    on every core. Only that many photos are in memory at a time, whatever the folder size.
    """
    summary = Summary()
    todo = []
    for job in jobs:
        if job.destination.exists() and not overwrite:
            summary.skipped += 1
            on_done(job, "skipped", "")
        else:
            todo.append(job)
    parallel_jobs = max(1, min(parallel_jobs, len(todo)))
    threads = cores_per_job(parallel_jobs)

    def run(job: Job) -> tuple[str, str]:
        try:
            process_image(look, job, jpeg_quality, scale, threads)
            return "written", ""
        except (LutcliError, OSError) as error:
            return "failed", str(error)

    def record(job: Job, outcome: str, message: str) -> None:
        if outcome == "written":
            summary.written += 1
        else:
            summary.failed.append((job.source, message))
        on_done(job, outcome, message)

    if parallel_jobs == 1:
        for job in todo:
            record(job, *run(job))
        return summary
    waiting = iter(todo)
    with ThreadPoolExecutor(parallel_jobs) as pool:
        running = {pool.submit(run, job): job for job in itertools.islice(waiting, parallel_jobs)}
        try:
            while running:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(running.pop(future), *future.result())
                    job = next(waiting, None)
                    if job is not None:
                        running[pool.submit(run, job)] = job
        finally:  # on an interrupt, photos not started stay unstarted
            for future in running:
                future.cancel()
    return summary
