"""Finding images in folders, and the files among them that lutcli does not read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lutcli.io.images import SUPPORTED_EXTENSIONS


@dataclass(frozen=True)
class FolderContents:
    """A folder's images, and the visible files it holds that are not images lutcli reads:
    other file types, links to nothing (or to themselves), special files."""

    images: list[Path]
    left_out: list[Path]


def is_image_path(path: Path) -> bool:
    """True for a visible file whose extension lutcli reads (case-insensitive)."""
    return path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")


def scan_folder(folder: str | os.PathLike, recursive: bool = False) -> FolderContents:
    """The images in ``folder`` (and its subfolders when ``recursive``), and what is left out;
    both sorted. Hidden files, and anything in hidden folders, are neither."""
    folder = Path(folder)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    images, left_out = [], []
    for path in candidates:
        if path.is_file() and is_image_path(path):
            images.append(path)
        elif not path.is_dir() and not _is_hidden(path.relative_to(folder)):
            left_out.append(path)
    return FolderContents(sorted(images), sorted(left_out))


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (and its subfolders when ``recursive``), sorted."""
    return scan_folder(folder, recursive).images


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
