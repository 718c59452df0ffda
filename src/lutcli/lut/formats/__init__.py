"""LUT files of every format lutcli reads and writes, behind ``read_lut`` and ``write_lut``.

One module per format in this folder, each defining ``FORMAT`` (``common.LutFormat``). Reading
picks the format by content first (a Hald PNG named .cube is still a Hald image), then by
extension; writing by the extension of the path, or the format asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

from lutcli.errors import LutcliError, LutFormatError, os_error_reason
from lutcli.lut.formats import csp, cube, hald, spi1d, spi3d, threedl
from lutcli.lut.formats.common import HEAD_BYTES, LutFormat, open_lut_file
from lutcli.lut.luts import Lut, LutFile

# Every format, in the order content is recognised (the most specific signatures first).
FORMATS: dict[str, LutFormat] = {
    module.FORMAT.name: module.FORMAT for module in (hald, cube, csp, spi3d, spi1d, threedl)
}


def format_names() -> str:
    """The formats' names, for messages and help texts."""
    return ", ".join(FORMATS)


def _extensions() -> str:
    return ", ".join(
        extension for lut_format in FORMATS.values() for extension in lut_format.extensions
    )


def format_for_path(path: str | os.PathLike) -> LutFormat | None:
    """The format that writes files with ``path``'s extension; None when none does."""
    suffix = Path(path).suffix.lower()
    for lut_format in FORMATS.values():
        if suffix in lut_format.extensions:
            return lut_format
    return None


def _chosen(name: str) -> LutFormat:
    if name not in FORMATS:
        raise LutcliError(f"unknown LUT format {name!r}; known: {format_names()}")
    return FORMATS[name]


def detect_format(path: str | os.PathLike) -> LutFormat:
    """The format of the LUT file ``path``: recognised by content, else by its extension;
    LutFormatError when neither tells."""
    with open_lut_file(path, "a LUT file") as handle:
        try:
            head = handle.read(HEAD_BYTES)
        except OSError as error:
            raise LutFormatError(f"{path}: cannot read: {os_error_reason(error)}") from None
    by_name = format_for_path(path)
    recognised = [lut_format for lut_format in FORMATS.values() if lut_format.recognises(head)]
    if by_name in recognised or (by_name is not None and not recognised):
        return by_name
    if recognised:
        return recognised[0]
    raise LutFormatError(
        f"{path}: not a LUT file lutcli reads (its content is none of {format_names()}, and "
        f"its extension none of {_extensions()})"
    )


def read_lut(path: str | os.PathLike, format: str | None = None) -> LutFile:
    """The LUT file at ``path``, in ``format`` (a name of FORMATS) or the one it is in;
    LutFormatError (one line, naming the file) when it cannot be used. A file whose content is
    another format than its extension says is read as what it is, with a note saying so."""
    lut_format = _chosen(format) if format is not None else detect_format(path)
    lut_file = lut_format.read(path)
    by_name = format_for_path(path)
    if format is None and by_name is not None and by_name is not lut_format:
        lut_file.notes.insert(
            0, f"{path}: its content is {lut_format.description}, not {by_name.name}; read as such"
        )
    return lut_file


def write_lut(
    lut_file: LutFile | Lut, path: str | os.PathLike, format: str | None = None
) -> LutFormat:
    """Write ``lut_file`` (or a bare LUT) atomically to ``path`` in ``format``, by default the
    format of the path's extension; returns the format written. LutcliError when no format is
    known for the path or the format cannot hold the LUT."""
    lut_format = _chosen(format) if format is not None else format_for_path(path)
    if lut_format is None:
        raise LutcliError(
            f"cannot tell a LUT format from the extension of '{path}' ({_extensions()}); "
            f"give one with --format ({format_names()})"
        )
    if not isinstance(lut_file, LutFile):
        lut_file = LutFile(lut_file)
    try:
        lut_format.write(lut_file, path)
    except ValueError as error:
        raise LutcliError(f"cannot write '{path}' as {lut_format.name}: {error}") from None
    return lut_format
