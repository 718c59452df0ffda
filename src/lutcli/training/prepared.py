"""The prepared training cache: each pair decoded once, shrunk to the training resolution and
kept on disk as integers, so that training memory does not grow with the number of pairs.

An entry holds a pair's pixels, (2, H, W, 3) uint8 (uint16 when either photo is 16-bit), and
its input's size-fixed context, (3, FIXED_SIZE, FIXED_SIZE) uint16, as two ``.npy`` files that
training maps from disk a crop at a time. Entries are keyed on both files' bytes and on the
settings that shape them (resolution, context size), so a changed photo or setting gets a fresh
entry, and later runs, ``--resume`` and other models trained on the same pairs reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lutcli.errors import ImageReadError, os_error_reason
from lutcli.fileutil import atomic_write, file_digest
from lutcli.io.images import read_image
from lutcli.io.pixels import resize_pixels
from lutcli.looks import picture_context
from lutcli.models.base import FIXED_SIZE
from lutcli.training.data import Pair, PictureSample, shrunk_size

# Changes whenever the layout of an entry does: older entries are then simply not found.
CACHE_VERSION = 1
# Contexts are floats in [0, 1] kept as 16-bit integers (steps of 1/65535).
_CONTEXT_SCALE = 65535
# np.load parses a .npy header with ast, and CPython 3.11 keeps the AST builder's recursion
# depth in state that all threads share: when a garbage collection during one thread's parse
# runs Python code and another thread parses meanwhile, a parse fails with "SystemError: AST
# constructor recursion depth mismatch". Prepared pairs are opened from several threads, so
# every opening goes through load_array, one at a time (a header is a few hundred bytes).
_HEADER_LOCK = threading.Lock()


def load_array(path: Path, mmap: bool = True) -> np.ndarray:
    """The array in the .npy file ``path``, mapped from disk unless ``mmap`` is False; safe to
    call from several threads at once."""
    with _HEADER_LOCK:
        return np.load(path, mmap_mode="r" if mmap else None)


@dataclass(frozen=True)
class PreparedPair:
    """A pair's entry in the cache: where its arrays are and its size at training resolution."""

    name: str
    pixels_path: Path
    context_path: Path
    height: int
    width: int


def training_size(height: int, width: int, resolution: int | None) -> tuple[int, int]:
    """(height, width) with the short side shrunk to ``resolution`` (None: as it is)."""
    short = min(height, width)
    if resolution is None or short <= resolution:
        return height, width
    scale = resolution / short
    return max(1, round(height * scale)), max(1, round(width * scale))


class TrainingCache:
    """Prepared pairs under ``root/training``, for one training resolution."""

    def __init__(self, root: str | os.PathLike, resolution: int | None) -> None:
        self.folder = Path(root) / "training"
        self.resolution = resolution
        settings = {"version": CACHE_VERSION, "resolution": resolution, "context": FIXED_SIZE}
        self._settings = json.dumps(settings, sort_keys=True).encode()

    def prepare(self, pair: Pair, warn: Callable[[str], None]) -> tuple[PreparedPair, bool]:
        """The entry of ``pair`` and whether it was in the cache; decoded and written if not.

        Raises ImageReadError for a photo that cannot be read, OSError when the cache cannot
        be written.
        """
        key = hashlib.sha256(self._settings)
        for path in (pair.input_path, pair.target_path):
            try:
                key.update(file_digest(path).encode())
            except OSError as error:
                raise ImageReadError(f"cannot read '{path}': {os_error_reason(error)}") from None
        stem = self.folder / key.hexdigest()[:32]
        pixels_path, context_path = stem.with_suffix(".npy"), stem.with_suffix(".context.npy")
        if pixels_path.is_file() and context_path.is_file():
            try:
                height, width = load_array(pixels_path).shape[1:3]
                return PreparedPair(pair.name, pixels_path, context_path, height, width), True
            except (OSError, ValueError):  # a damaged entry: made again below
                pass
        pixels, context = self._decode(pair, warn)
        self.folder.mkdir(parents=True, exist_ok=True)
        # The pixels go last: an entry whose pixels are there is whole.
        with atomic_write(context_path) as handle:
            np.save(handle, context)
        with atomic_write(pixels_path) as handle:
            np.save(handle, pixels)
        height, width = pixels.shape[1:3]
        return PreparedPair(pair.name, pixels_path, context_path, height, width), False

    def _decode(self, pair: Pair, warn: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray]:
        """The pair's pixels at training resolution and its input's context, as stored."""
        source = read_image(pair.input_path).pixels
        target = read_image(pair.target_path).pixels
        height, width = source.shape[:2]
        if target.shape[:2] != (height, width):
            warn(
                f"target '{pair.target_path.name}' is {target.shape[1]}x{target.shape[0]}, "
                f"its input {width}x{height}: resized the target to match"
            )
            target = resize_pixels(target, (height, width))
        context = picture_context(source)[0].numpy()
        size = training_size(height, width, self.resolution)
        source, target = resize_pixels(source, size), resize_pixels(target, size)
        if source.dtype != target.dtype:  # one 16-bit photo: keep both at 16 bits
            source, target = (
                p.astype(np.uint16) * 257 if p.dtype == np.uint8 else p for p in (source, target)
            )
        stored_context = np.round(context * _CONTEXT_SCALE).astype(np.uint16)
        return np.stack([source, target]), stored_context


def prepare_pairs(
    pairs: Sequence[Pair],
    cache: TrainingCache,
    workers: int = 1,
    warn: Callable[[str], None] = lambda _: None,
    on_prepared: Callable[[int], None] = lambda done: None,
    known: Mapping[str, PreparedPair] | None = None,
) -> tuple[PreparedSamples, int]:
    """The cache entries of ``pairs`` (in order) and how many were there already; pairs are
    decoded by ``workers`` threads (decoding and resizing release the GIL). An entry in
    ``known`` (by pair name) whose files are here is taken as it is, without hashing the photos.

    A pair that cannot be read is named through ``warn`` and left out, so one bad file among
    thousands does not stop training.
    """

    def prepare(pair: Pair) -> tuple[PreparedPair, bool] | None:
        entry = (known or {}).get(pair.name)
        if entry is not None and entry.pixels_path.is_file() and entry.context_path.is_file():
            return entry, True
        try:
            return cache.prepare(pair, warn)
        except ImageReadError as error:
            warn(f"skipped the pair '{pair.name}': {error}")
        except MemoryError:
            warn(f"skipped the pair '{pair.name}': not enough memory to load it")
        return None

    entries, cached = [], 0
    with ThreadPoolExecutor(max(1, workers)) as pool:
        for done, outcome in enumerate(pool.map(prepare, pairs), start=1):
            if outcome is not None:
                entries.append(outcome[0])
                cached += outcome[1]
            on_prepared(done)
    return PreparedSamples(entries), cached


class PreparedSamples:
    """A SampleSet read from the cache: each read maps the pair's array, copies out only the
    pixels it asks for and unmaps it, so memory does not grow with the pairs or their size."""

    def __init__(self, entries: Sequence[PreparedPair]) -> None:
        self.entries = list(entries)
        self.names = [entry.name for entry in self.entries]
        self.sizes = [(entry.height, entry.width) for entry in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def crop(self, index: int, top: int, left: int, height: int, width: int) -> PictureSample:
        entry = self.entries[index]
        pixels = load_array(entry.pixels_path)
        window = np.array(pixels[:, top : top + height, left : left + width])
        del pixels  # unmapped here
        return _sample(entry, window)

    def colors(self, index: int, positions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        entry = self.entries[index]
        pixels = load_array(entry.pixels_path)
        picked = pixels.reshape(2, -1, 3)[:, positions]  # reads only their pages
        del pixels
        both = torch.from_numpy(_to_float(picked)).permute(0, 2, 1)
        return both[0], both[1]

    def preview(self, index: int, longest_side: int) -> PictureSample:
        entry = self.entries[index]
        size = shrunk_size(entry.height, entry.width, longest_side)
        pixels = load_array(entry.pixels_path)
        small = np.stack([resize_pixels(np.asarray(picture), size) for picture in pixels])
        del pixels
        return _sample(entry, small)

    def subset(self, indices: Sequence[int]) -> PreparedSamples:
        return PreparedSamples([self.entries[i] for i in indices])


def _to_float(pixels: np.ndarray) -> np.ndarray:
    """Stored integers as float32 in [0, 1]."""
    return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)


def _sample(entry: PreparedPair, pixels: np.ndarray) -> PictureSample:
    """(2, H, W, 3) stored integers and the entry's context as float tensors in [0, 1]."""
    both = torch.from_numpy(_to_float(pixels)).permute(0, 3, 1, 2)
    context = torch.from_numpy(
        load_array(entry.context_path, mmap=False).astype(np.float32) / _CONTEXT_SCALE
    )
    return PictureSample(entry.name, both[0], both[1], context)
