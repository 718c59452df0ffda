"""Training pairs: finding them on disk, and the random crops that training draws from them."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from lutcli.clip_settings import DEFAULT_CLIP_FRAMES
from lutcli.errors import DatasetError
from lutcli.io.clip_frames import clip_frames, frame_name
from lutcli.io.folders import is_clip_path, scan_folder
from lutcli.io.video import probe


@dataclass(frozen=True)
class Pair:
    """An input photo and its ground truth, matched by file stem (or a frame of an input clip
    and the same frame of its ground-truth clip)."""

    name: str
    input_path: Path
    target_path: Path


def find_pairs(
    folder: str | os.PathLike,
    frames: int = DEFAULT_CLIP_FRAMES,
    cache_root: str | os.PathLike | None = None,
) -> list[Pair]:
    """Pairs from ``folder/input`` and ``folder/target`` matched by stem (a.jpg ↔ a.png). A
    clip and its ground-truth clip (a.mov ↔ a.mp4) give ``frames`` pairs, frames spread evenly
    over them (``lutcli.io.clip_frames``, cached under ``cache_root``).

    Raises DatasetError for a missing folder, no images, duplicate stems, an input with no
    target, or a clip whose ground truth is a photo or has another number of frames, naming
    what is wrong so the user can fix the folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"no folder at '{folder}'")
    sides = {side: _images_by_stem(folder / side) for side in ("input", "target")}
    inputs, targets = sides["input"], sides["target"]
    if not inputs:
        raise DatasetError(f"no images or clips in '{folder / 'input'}'")
    missing = sorted(set(inputs) - set(targets))
    if missing:
        names = ", ".join(inputs[stem].name for stem in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DatasetError(
            f"{len(missing)} input image(s) have no target in '{folder / 'target'}': {names}{more}"
        )
    pairs = []
    for stem in sorted(inputs):
        source, target = inputs[stem], targets[stem]
        if is_clip_path(source) != is_clip_path(target):
            raise DatasetError(
                f"'{source.name}' and its target '{target.name}': a clip's ground truth is a "
                "clip, a photo's a photo"
            )
        if is_clip_path(source):
            pairs.extend(_frame_pairs(stem, source, target, frames, cache_root))
        else:
            pairs.append(Pair(stem, source, target))
    return pairs


def _frame_pairs(
    stem: str, source: Path, target: Path, frames: int, cache_root: str | os.PathLike | None
) -> list[Pair]:
    """The pairs of the same ``frames`` frames of a clip and of its ground truth."""
    counts = probe(source).frames, probe(target).frames
    if counts[0] != counts[1]:
        raise DatasetError(
            f"the clip '{source.name}' has {counts[0]} frames and its target '{target.name}' "
            f"{counts[1]}: a ground-truth clip has the frames of its input"
        )
    inputs = clip_frames(source, frames, cache_root)
    targets = clip_frames(target, frames, cache_root)
    return [
        Pair(frame_name(stem, seconds), input_path, target_path)
        for (seconds, input_path), (_, target_path) in zip(inputs, targets, strict=True)
    ]


def _images_by_stem(folder: Path) -> dict[str, Path]:
    """The images and clips of ``folder`` by file stem."""
    if not folder.is_dir():
        raise DatasetError(f"'{folder.parent}' must hold the folders input/ and target/")
    by_stem: dict[str, Path] = {}
    for path in scan_folder(folder, clips=True).files:
        if path.stem in by_stem:
            raise DatasetError(
                f"two files in '{folder}' share the name '{path.stem}': "
                f"{by_stem[path.stem].name} and {path.name}"
            )
        by_stem[path.stem] = path
    return by_stem


@dataclass
class PictureSample:
    """One pair in memory: (3, H, W) float32 input and target in [0, 1], and the input's
    size-fixed context (3, FIXED_SIZE, FIXED_SIZE) that image-adaptive models look at."""

    name: str
    input: torch.Tensor
    target: torch.Tensor
    context: torch.Tensor


# A crop: (sample index, top, left, side).
Crop = tuple[int, int, int, int]


class SampleSet(Protocol):
    """Pairs that training reads a piece at a time, wherever they live (the prepared cache on
    disk, or tensors in memory): memory stays bounded by what one step or one strip needs, never
    by the size of a photo or the number of pairs."""

    names: list[str]
    sizes: list[tuple[int, int]]  # (height, width) of each pair

    def __len__(self) -> int: ...

    def crop(self, index: int, top: int, left: int, height: int, width: int) -> PictureSample:
        """A window of pair ``index`` (with the whole picture's context)."""
        ...

    def colors(self, index: int, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(3, P) input and target colors of pair ``index`` at flat pixel ``positions``, in their
        order (ascending positions read a file in one pass)."""
        ...

    def preview(self, index: int, longest_side: int) -> PictureSample:
        """Pair ``index`` shrunk to at most ``longest_side`` pixels a side (area average)."""
        ...

    def subset(self, indices: Sequence[int]) -> SampleSet:
        """These pairs, in this order."""
        ...


def shrunk_size(height: int, width: int, longest_side: int) -> tuple[int, int]:
    """(height, width) scaled to at most ``longest_side`` a side (never enlarged)."""
    scale = min(1.0, longest_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


class SampleList:
    """A SampleSet of pictures already in memory (pairs made in code, or a handful of tensors)."""

    def __init__(self, samples: Sequence[PictureSample]) -> None:
        self.samples = list(samples)
        self.names = [sample.name for sample in self.samples]
        self.sizes = [(s.input.shape[1], s.input.shape[2]) for s in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def crop(self, index: int, top: int, left: int, height: int, width: int) -> PictureSample:
        whole = self.samples[index]
        window = (slice(None), slice(top, top + height), slice(left, left + width))
        return PictureSample(whole.name, whole.input[window], whole.target[window], whole.context)

    def colors(self, index: int, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        whole, at = self.samples[index], torch.from_numpy(positions)
        return whole.input.reshape(3, -1)[:, at], whole.target.reshape(3, -1)[:, at]

    def preview(self, index: int, longest_side: int) -> PictureSample:
        whole = self.samples[index]
        size = shrunk_size(*whole.input.shape[1:], longest_side)
        if size == tuple(whole.input.shape[1:]):
            return whole
        small = (
            F.interpolate(t[None], size=size, mode="area")[0] for t in (whole.input, whole.target)
        )
        return PictureSample(whole.name, *small, whole.context)

    def subset(self, indices: Sequence[int]) -> SampleList:
        return SampleList([self.samples[i] for i in indices])


def plan_crops(
    sizes: Sequence[tuple[int, int]], step: int, seed: int, batch_size: int, crop_size: int
) -> list[Crop]:
    """The random crops of training step ``step``: ``batch_size`` pairs drawn with replacement,
    a square window in each.

    The side is ``crop_size``, or the smallest side among the drawn pairs when that is smaller,
    so that crops stack. Each step has its own random stream made from (``seed``, ``step``): a
    run resumed at any step, or split over several processes, draws exactly the same crops.
    """
    rng = np.random.default_rng([seed, step])
    picks = rng.integers(len(sizes), size=batch_size)
    side = min([crop_size] + [min(sizes[i]) for i in picks])
    crops = []
    for index in picks.tolist():
        height, width = sizes[index]
        top, left = rng.integers(height - side + 1), rng.integers(width - side + 1)
        crops.append((index, int(top), int(left), side))
    return crops


class CropBatches:
    """The crops of steps ``first`` to ``last`` (excluded), step by step: a DataLoader batch
    sampler. Process ``rank`` of ``world`` takes its equal share of every step's crops."""

    def __init__(
        self,
        sizes: Sequence[tuple[int, int]],
        steps: range,
        seed: int,
        batch_size: int,
        crop_size: int,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if batch_size % world:
            raise DatasetError(
                f"--batch-size {batch_size} does not split evenly over {world} processes"
            )
        self.sizes, self.steps, self.seed = list(sizes), steps, seed
        self.batch_size, self.crop_size = batch_size, crop_size
        self.share = slice(rank * batch_size // world, (rank + 1) * batch_size // world)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[list[Crop]]:
        for step in self.steps:
            yield plan_crops(self.sizes, step, self.seed, self.batch_size, self.crop_size)[
                self.share
            ]


class _Crops(Dataset):
    """Crops of a SampleSet as (input, target, context) tensors, read where the loader runs."""

    def __init__(self, samples: SampleSet) -> None:
        self.samples = samples

    def __getitem__(self, crop: Crop) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index, top, left, side = crop
        piece = self.samples.crop(index, top, left, side, side)
        return piece.input, piece.target, piece.context


def crop_loader(
    samples: SampleSet, batches: CropBatches, workers: int, pin_memory: bool = False
) -> DataLoader:
    """Batches of crops as (inputs, targets, contexts), read by ``workers`` processes ahead of
    the step that needs them (0: read in this process)."""
    return DataLoader(
        _Crops(samples),
        batch_sampler=batches,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
