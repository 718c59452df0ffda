"""Finding images in folders."""

from __future__ import annotations

import os
from pathlib import Path

from lutcli.io.images import SUPPORTED_EXTENSIONS


def is_image_path(path: Path) -> bool:
    """True for a visible file whose extension lutcli reads (case-insensitive)."""
    return path.suffix.lower() in SUPPORTED_EXTENSIONS and not path.name.startswith(".")


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (and its subfolders when ``recursive``), sorted."""
    folder = Path(folder)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in candidates if p.is_file() and is_image_path(p))
