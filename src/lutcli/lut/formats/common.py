"""What every LUT file format module shares: its description (``LutFormat``), opening a file
with one-line errors, and writing atomically.

A format module (one per format in this folder) defines ``FORMAT = LutFormat(...)``: its name,
the extensions it is written with, a test that recognises its content from the first bytes of
a file, a reader and a writer. ``lutcli.lut.formats`` chooses among them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from lutcli.errors import LutcliError, LutFormatError, os_error_reason
from lutcli.fileutil import atomic_write
from lutcli.limits import environment_limit
from lutcli.lut.luts import LutFile

# Bytes of a file's start that ``LutFormat.recognises`` looks at.
HEAD_BYTES = 4096
# The largest LUT file read, in MiB (LUTCLI_MAX_LUT_MB raises it): a 256³ .cube, the most its
# specification allows, is 430 MiB of text at 6 decimals.
MAX_LUT_MB = 1024
MAX_LUT_MB_VARIABLE = "LUTCLI_MAX_LUT_MB"
# Bytes read at a time by ``read_text``.
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class LutFormat:
    """One LUT file format: how to recognise, read and write it."""

    name: str  # what --format takes and `lutcli info` shows: "cube", "hald", "3dl", ...
    description: str  # a few words for help texts and `lutcli info`
    extensions: tuple[str, ...]  # lower case, with the dot; the first is the one written
    recognises: Callable[[bytes], bool]  # from the file's first HEAD_BYTES bytes
    read: Callable[[str | os.PathLike], LutFile]  # LutFormatError naming the file if unusable
    write: Callable[[LutFile, str | os.PathLike], None]  # atomic; ValueError if it cannot hold it


def size_limit() -> int:
    """The largest LUT file read, in bytes (``$LUTCLI_MAX_LUT_MB``)."""
    return environment_limit(MAX_LUT_MB_VARIABLE, MAX_LUT_MB) << 20


def too_large(source: str, size: int, limit: int) -> str:
    """The message for a file over the size limit."""
    return (
        f"{source}: over {size >> 20} MiB, more than the {limit >> 20} MiB a LUT file may "
        f"have (set {MAX_LUT_MB_VARIABLE} to raise the limit)"
    )


def open_lut_file(path: str | os.PathLike, what: str) -> BinaryIO:
    """``path`` opened for reading, after checking its size; LutFormatError naming it when it
    is missing, a folder, unreadable or over the size limit. ``what`` names the format."""
    source = str(path)
    try:
        handle = open(path, "rb")  # noqa: SIM115 (the caller closes it)
    except FileNotFoundError:
        raise LutFormatError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise LutFormatError(f"{source}: is a folder, not {what}") from None
    except OSError as error:
        raise LutFormatError(f"{source}: cannot read: {os_error_reason(error)}") from None
    size, limit = os.fstat(handle.fileno()).st_size, size_limit()
    if size > limit:
        handle.close()
        raise LutFormatError(too_large(source, size, limit))
    return handle


def read_text(path: str | os.PathLike, what: str) -> str:
    """The whole text of a LUT file (small formats: a 65³ table is a few MB), its line endings
    made '\\n'; LutFormatError for binary data or what ``open_lut_file`` refuses."""
    limit, chunks, total = size_limit(), [], 0
    with open_lut_file(path, what) as handle:
        while True:  # in chunks up to the limit: a pipe, or a growing file, has no size to check
            try:
                chunk = handle.read(_READ_CHUNK)
            except OSError as error:
                raise LutFormatError(f"{path}: cannot read: {os_error_reason(error)}") from None
            total += len(chunk)
            if total > limit:
                raise LutFormatError(too_large(str(path), total, limit))
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    if b"\0" in data:
        raise LutFormatError(f"{path}: binary data, not a text {what}")
    text = data.decode("utf-8", "replace").removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_finite(values: np.ndarray) -> None:
    """ValueError unless every value of a table about to be written is finite: no file format
    holds NaN or infinity."""
    if not np.isfinite(values).all():
        raise ValueError("the LUT holds non-finite values (NaN or infinity)")


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, so a crash or a full disk never leaves a partial
    LUT file; LutcliError when the file cannot be written."""
    try:
        with atomic_write(path) as handle:
            handle.write(data)
    except OSError as error:
        raise LutcliError(f"cannot write '{path}': {os_error_reason(error)}") from None
