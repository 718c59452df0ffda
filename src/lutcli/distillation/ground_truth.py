"""The teacher's outputs, cached on disk: a second run with the same teacher does not run it.

Entries are keyed on the teacher (its file's bytes, or its command line) and on each picture
file's bytes, so a changed teacher or picture gets fresh ground truth and nothing stale is
reused. The cache lives in ``$LUTCLI_CACHE`` (default ``$XDG_CACHE_HOME/lutcli``, else
``~/.cache/lutcli``), or where ``--cache`` says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lutcli.distillation.teachers import Teacher, TeacherError
from lutcli.fileutil import default_cache_root, file_digest
from lutcli.io.images import read_image, write_pixels
from lutcli.lut.formats.hald import hald_pixels
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D

# An identity Hald image of this level: level² = 64 values per channel, 64³ colors, 512x512.
PROBE_LEVEL = 8


class GroundTruth:
    """The teacher's output for picture files, from the cache or made (and cached) once."""

    def __init__(self, teacher: Teacher, cache_root: Path | None = None) -> None:
        self.teacher = teacher
        self.root = cache_root or default_cache_root()
        self.folder = self.root / "teachers" / teacher.identity[:32]

    def target_for(self, source: Path) -> tuple[Path, bool]:
        """The ground truth file of ``source`` and whether it came from the cache.

        Raises TeacherError when the teacher fails on it or answers with another size.
        """
        target = self.folder / f"{file_digest(source)[:32]}.png"
        if target.is_file():
            return target, True
        height, width = read_image(source).pixels.shape[:2]
        pixels = self.teacher.teach(source)
        if pixels.shape[:2] != (height, width):
            raise TeacherError(
                f"the teacher's output for '{source}' is {pixels.shape[1]}x{pixels.shape[0]}, "
                f"the picture {width}x{height}"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        write_pixels(target, np.ascontiguousarray(pixels))
        return target, False

    def probe(self) -> Path:
        """The color-coverage picture (an identity Hald image), written once into the cache."""
        path = self.root / f"probe-hald-{PROBE_LEVEL}.png"
        if not path.is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            write_pixels(path, hald_identity(PROBE_LEVEL))
        return path


def hald_identity(level: int) -> np.ndarray:
    """The identity Hald image of ``level``: (level³, level³, 3) uint8 holding every color of a
    level²-step lattice once, red changing fastest, then green, then blue."""
    return hald_pixels(Lut3D(identity_lut(level * level).numpy()), level, bits=8)
