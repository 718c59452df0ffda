"""Applying a look (a model or a .cube file) to image files and folders.

The library behind ``lutcli apply``: planning which file goes where, and processing each one so
that inputs are never overwritten, outputs appear whole or not at all, and one bad file does
not stop the rest.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import torch
import torch.nn.functional as F

from lutcli.errors import LutcliError
from lutcli.io.folders import is_image_path, list_images
from lutcli.io.images import SUPPORTED_EXTENSIONS, from_tensor, read_image, to_tensor, write_image
from lutcli.lut.cube import CubeFile
from lutcli.models.base import LutModel

# A look maps (1, 3, H, W) float RGB in [0, 1] to the same shape; the optional second argument
# is the whole picture that image-adaptive models look at (default: the image itself).
Look = Callable[..., torch.Tensor]


def model_look(model: LutModel, interp: str, device: torch.device) -> Look:
    """A look that runs ``model`` on ``device``; adaptive models see the whole picture."""
    model = model.to(device).eval()
    model.set_interp(interp)

    @torch.no_grad()
    def look(image: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        image = image.to(device)
        context = image if context is None else context.to(device)
        return model(image, context=context).cpu()

    return look


def cube_look(cube: CubeFile, interp: str, device: torch.device) -> Look:
    """A look that applies a .cube file (1D, 3D, or shaper + 3D)."""

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


def process_image(look: Look, job: Job, jpeg_quality: int = 95, scale: float = 1.0) -> None:
    """Read, apply the look, and write atomically, keeping bit depth, alpha and metadata.

    ``scale`` resizes the output. The look runs at the smaller of the two sizes: a shrunk
    picture is resampled first (an adaptive look still sees the whole photo, so it chooses the
    colors it would at full size), an enlarged one after.
    """
    if scale <= 0:
        raise LutcliError(f"the scale must be above 0, got {scale:g}")
    picture = read_image(job.source)
    image = to_tensor(picture.pixels)
    height, width = picture.pixels.shape[:2]
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if scale < 1:
        result = look(resize(image, size), image)
    else:
        result = look(image)
        if size != (height, width):
            result = resize(result, size)
    alpha = picture.alpha
    if alpha is not None and alpha.shape != size:
        shrinking = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        alpha = cv2.resize(alpha, (size[1], size[0]), interpolation=shrinking)
    pixels = from_tensor(result, picture.pixels.dtype)
    output = dataclasses.replace(picture, pixels=pixels, alpha=alpha)
    job.destination.parent.mkdir(parents=True, exist_ok=True)
    write_image(job.destination, output, jpeg_quality)


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


def process_jobs(
    look: Look,
    jobs: list[Job],
    overwrite: bool = False,
    jpeg_quality: int = 95,
    scale: float = 1.0,
    on_done: Callable[[Job, str, str], None] = lambda job, outcome, message: None,
) -> Summary:
    """Process every job; existing outputs are skipped unless ``overwrite``.

    A file that cannot be read or written is recorded in the summary and the rest go on.
    ``on_done(job, outcome, message)`` follows each job: outcome "written", "skipped" or
    "failed", with the error message when it failed.
    """
    summary = Summary()
    for job in jobs:
        outcome, message = "written", ""
        if job.destination.exists() and not overwrite:
            outcome = "skipped"
            summary.skipped += 1
        else:
            try:
                process_image(look, job, jpeg_quality, scale)
                summary.written += 1
            except (LutcliError, OSError) as error:
                outcome, message = "failed", str(error)
                summary.failed.append((job.source, message))
        on_done(job, outcome, message)
    return summary
