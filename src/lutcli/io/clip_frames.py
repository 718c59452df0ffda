"""Clips as pictures: frames spread evenly over a clip, kept as PNG files in the cache, so that
training and distillation take them as they take photos.

A clip is decoded once for a given number of frames; later runs (``--resume``, other models,
a second distillation) find its frames in the cache, keyed on the clip's bytes and the count.
8-bit clips give 8-bit PNGs, deeper ones 16-bit PNGs.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lutcli.fileutil import atomic_write, default_cache_root, file_digest
from lutcli.io.images import write_pixels
from lutcli.io.video import read_frames

# Changes whenever how frames are picked or stored does: older entries are then not found.
FRAMES_VERSION = 1
_LIST_NAME = "frames.json"


def clip_frames(
    clip: str | os.PathLike, count: int, cache_root: str | os.PathLike | None = None
) -> list[tuple[float, Path]]:
    """(time in seconds, PNG file) of ``count`` frames spread evenly over ``clip`` (all of them
    when it has fewer), in order, decoded into the cache under ``cache_root`` (default:
    ``default_cache_root()``) unless they are there already."""
    clip = Path(clip)
    key = hashlib.sha256(f"{FRAMES_VERSION}\0{count}\0{file_digest(clip)}".encode())
    folder = Path(cache_root or default_cache_root()) / "frames" / key.hexdigest()[:32]
    listing = folder / _LIST_NAME
    if listing.is_file():
        try:
            frames = [(seconds, folder / name) for seconds, name in json.loads(listing.read_text())]
            if all(path.is_file() for _, path in frames):
                return frames
        except (ValueError, TypeError):  # a damaged listing: decoded again below
            pass
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, frame in enumerate(read_frames(clip, count)):
        name = f"{index:06d}.png"
        write_pixels(folder / name, frame.pixels)
        entries.append((frame.seconds, name))
    # The listing goes last: an entry whose listing is there is whole.
    with atomic_write(listing) as handle:
        handle.write(json.dumps(entries).encode())
    return [(seconds, folder / name) for seconds, name in entries]


def frame_name(clip_name: str, seconds: float) -> str:
    """What a frame is called in messages and reports: the clip's name and the frame's time."""
    return f"{clip_name} at {seconds:.2f} s"
