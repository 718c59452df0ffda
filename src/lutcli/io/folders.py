"""Finding images (and clips) in folders, and the files among them that lutcli does not read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lutcli.io.images import SUPPORTED_EXTENSIONS
from lutcli.io.video import VIDEO_EXTENSIONS


@dataclass(frozen=True)
class FolderContents:
    """A folder's files that lutcli reads (images, and clips where asked), and the visible
    files it holds that it does not: other file types, links to nothing (or to themselves),
    special files."""

    files: list[Path]
    left_out: list[Path]


def is_image_path(path: Path) -> bool:
    """True for a visible file whose extension lutcli reads as a photo (case-insensitive)."""
    return path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")


def is_clip_path(path: Path) -> bool:
    """True for a visible file whose extension is a clip container lutcli reads."""
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def is_readable_path(path: Path, clips: bool) -> bool:
    """True for an image, or with ``clips`` an image or a clip, by its name."""
    return is_image_path(path) or (clips and is_clip_path(path))


def scan_folder(
    folder: str | os.PathLike, recursive: bool = False, clips: bool = False
) -> FolderContents:
    """The images in ``folder`` (and its subfolders when ``recursive``), with ``clips`` the
    clips too, and what is left out; both sorted. Hidden files, and anything in hidden folders,
    are neither."""
    folder = Path(folder)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    files, left_out = [], []
    for path in candidates:
        if path.is_file() and is_readable_path(path, clips):
            files.append(path)
        elif not path.is_dir() and not _is_hidden(path.relative_to(folder)):
            left_out.append(path)
    return FolderContents(sorted(files), sorted(left_out))


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (and its subfolders when ``recursive``), sorted."""
    return scan_folder(folder, recursive).files


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
