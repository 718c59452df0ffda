"""Presets: the named looks that ``apply --requirement NAME`` runs.

A preset is a LUT file (any format ``lutcli.lut.formats`` reads, by its extension) or a lutcli
model file named after the look, in a presets folder:
first the folders of ``$LUTCLI_PRESETS`` (separated like PATH; a user's own looks, which win
over shipped ones of the same name), then the shipped looks: the package
``lutcli.shipped_presets``, read through ``importlib.resources`` wherever lutcli is installed.
Its files live in the repository's top-level ``presets/`` (mapped into the package by setup.py),
which ``scripts/make_presets.py`` (``make presets``) builds from ``presets/looks.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lutcli.errors import LutcliError
from lutcli.io.images import SUPPORTED_EXTENSIONS
from lutcli.lut.formats import format_for_path
from lutcli.lut.formats.common import HEAD_BYTES
from lutcli.models import MODEL_SUFFIX

USER_PRESETS_VARIABLE = "LUTCLI_PRESETS"
# The installed package is a folder on disk (a wheel's site-packages, or presets/ itself in an
# editable install), so its files are plain paths.
SHIPPED_PRESETS = Path(resources.files("lutcli.shipped_presets"))
# The comment of a preset LUT file that holds its one-line description.
DESCRIPTION_PREFIX = "description: "


@dataclass(frozen=True)
class Preset:
    """A named look on disk: a LUT file (the same colors for every photo) or a model file."""

    name: str
    path: Path

    @property
    def is_model(self) -> bool:
        return self.path.suffix == MODEL_SUFFIX

    def description(self) -> str:
        """The look's one-line description, from the file ("" when it has none)."""
        if self.is_model:
            from lutcli.models.files import load_model

            _, info = load_model(self.path)
            return str(info.get("description", ""))
        from lutcli.lut.formats import read_lut

        for comment in read_lut(self.path).comments:
            if comment.startswith(DESCRIPTION_PREFIX):
                return comment[len(DESCRIPTION_PREFIX) :]
        return ""


def preset_folders() -> list[Path]:
    """Where presets are looked for, first match wins: $LUTCLI_PRESETS, then the shipped ones."""
    user = os.environ.get(USER_PRESETS_VARIABLE, "")
    return [Path(p) for p in user.split(os.pathsep) if p] + [SHIPPED_PRESETS]


def is_look_file(path: Path) -> bool:
    """Whether ``path`` is a preset: a model file, or a LUT file by its extension; a file with
    an image's extension (a Hald CLUT is a PNG or TIFF) only when its content is a LUT, so that
    a thumbnail beside the looks is not one."""
    if path.suffix == MODEL_SUFFIX:
        return True
    lut_format = format_for_path(path)
    if lut_format is None:
        return False
    if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
        return True
    with open(path, "rb") as handle:
        return lut_format.recognises(handle.read(HEAD_BYTES))


def find_presets() -> dict[str, Preset]:
    """Every preset by name, sorted by name; a user's preset hides a shipped one."""
    found: dict[str, Preset] = {}
    for folder in preset_folders():
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and is_look_file(path):
                found.setdefault(path.stem, Preset(path.stem, path))
    return dict(sorted(found.items()))


def find_preset(name: str) -> Preset:
    """The preset ``name``; LutcliError listing the known ones when there is none."""
    presets = find_presets()
    if name not in presets:
        known = ", ".join(presets) or "none (run `make presets`)"
        raise LutcliError(f"unknown requirement {name!r}; known: {known}")
    return presets[name]
