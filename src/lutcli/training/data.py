"""Training pairs: finding them on disk, loading them, and sampling random crops."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch
import torch.nn.functional as F

from lutcli.errors import DatasetError
from lutcli.io.folders import list_images
from lutcli.io.images import read_image, to_tensor

# The size-fixed whole picture that image-adaptive models look at (SPEC: picture size fixing).
CONTEXT_SIZE = 256


@dataclass(frozen=True)
class Pair:
    """An input photo and its ground truth, matched by file stem."""

    name: str
    input_path: Path
    target_path: Path


def find_pairs(folder: str | os.PathLike) -> list[Pair]:
    """Pairs from ``folder/input`` and ``folder/target`` matched by stem (a.jpg ↔ a.png).

    Raises DatasetError for a missing folder, no images, duplicate stems or an input with no
    target, naming what is wrong so the user can fix the folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no folder at '{folder}'")
    sides = {side: _images_by_stem(folder / side) for side in ("input", "target")}
    inputs, targets = sides["input"], sides["target"]
    if not inputs:
        raise DatasetError(f"no images in '{folder / 'input'}'")
    missing = sorted(set(inputs) - set(targets))
    if missing:
        names = ", ".join(inputs[stem].name for stem in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DatasetError(
            f"{len(missing)} input image(s) have no target in '{folder / 'target'}': {names}{more}"
        )
    return [Pair(stem, inputs[stem], targets[stem]) for stem in sorted(inputs)]


def _images_by_stem(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise DatasetError(f"'{folder.parent}' must hold the folders input/ and target/")
    by_stem: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in by_stem:
            raise DatasetError(
                f"two images in '{folder}' share the name '{path.stem}': "
                f"{by_stem[path.stem].name} and {path.name}"
            )
        by_stem[path.stem] = path
    return by_stem


@dataclass
class PictureSample:
    """One loaded pair: (3, H, W) float32 input and target, and the size-fixed input context."""

    name: str
    input: torch.Tensor
    target: torch.Tensor
    context: torch.Tensor


def load_pair(pair: Pair, max_pixels: int, warn: Callable[[str], None]) -> PictureSample:
    """Read a pair; resize a mismatched target to its input, shrink photos over ``max_pixels``."""
    source = read_image(pair.input_path).pixels
    target = read_image(pair.target_path).pixels
    height, width = source.shape[:2]
    if target.shape[:2] != (height, width):
        warn(
            f"target '{pair.target_path.name}' is {target.shape[1]}x{target.shape[0]}, its input "
            f"{width}x{height}: resized the target to match"
        )
        target = cv2.resize(target, (width, height), interpolation=cv2.INTER_AREA)
    scale = math.sqrt(max_pixels / (height * width))
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        source = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        target = cv2.resize(target, size, interpolation=cv2.INTER_AREA)
    source_tensor = to_tensor(source)
    context = F.interpolate(
        source_tensor, size=(CONTEXT_SIZE, CONTEXT_SIZE), mode="bilinear", antialias=True
    )
    return PictureSample(pair.name, source_tensor[0], to_tensor(target)[0], context[0])


def random_crops(
    samples: list[PictureSample], crop_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One random square crop per sample: inputs, targets (N, 3, S, S) and contexts (N, 3, C, C).

    S is ``crop_size``, or the smallest side among the samples when that is smaller, so crops stack.
    """
    size = min([crop_size] + [min(s.input.shape[1:]) for s in samples])
    inputs, targets = [], []
    for sample in samples:
        height, width = sample.input.shape[1:]
        top = int(torch.randint(height - size + 1, (1,), generator=generator))
        left = int(torch.randint(width - size + 1, (1,), generator=generator))
        window = (slice(None), slice(top, top + size), slice(left, left + size))
        inputs.append(sample.input[window])
        targets.append(sample.target[window])
    contexts = torch.stack([s.context for s in samples])
    return torch.stack(inputs), torch.stack(targets), contexts
