"""Sony Pictures Imageworks .spi1d files: a 1D LUT, as OpenColorIO reads and bakes them.

    Version 1
    From -0.125 1.125
    Length 4096
    Components 3
    {
        0.000000 0.000000 0.000000
        ...
    }

``From a b`` is the input domain of every channel (0 1 when absent). With ``Components 1`` a
line holds one value for the three channels; with 2 (as OpenColorIO reads them) red and green,
blue being 0. Lines starting with '#' are comments (colour-science writes them after '}');
other header lines and text after '}' are passed over, with a note.
"""

from __future__ import annotations

import os

import numpy as np

from lutcli.lut.formats.common import LutFormat, write_file
from lutcli.lut.formats.text import TextLines, comment_lines, exact, format_rows, quote
from lutcli.lut.luts import Lut1D, LutFile

# Entries a table may have: OpenColorIO's limits.
LENGTHS = range(2, 300_001)
_KEYWORDS = ("Version", "From", "Length", "Components")


def read_spi1d(path: str | os.PathLike) -> LutFile:
    """Read a .spi1d file; LutFormatError (one line, naming the file and line) if unusable."""
    lines = TextLines(path, "a .spi1d file", comment="#")
    header: dict[str, tuple[int, list[str]]] = {}
    notes = []
    for lineno, line in lines:
        if line == "{":
            break
        keyword, *arguments = line.split()
        if keyword not in _KEYWORDS:
            notes.append(f"{lines.source}:{lineno}: {quote(line)} passed over")
            continue
        if keyword in header:
            raise lines.error(
                lineno, f"'{keyword}' given twice (first on line {header[keyword][0]})"
            )
        header[keyword] = (lineno, arguments)
    else:
        raise lines.error(lines.lineno, "no '{' starting the table")
    brace = lines.lineno
    for keyword in ("Version", "Length", "Components"):
        if keyword not in header:
            raise lines.error(brace, f"no '{keyword}' line before the table")
    version = _integer(lines, header, "Version")
    if version != 1:
        raise lines.error(header["Version"][0], f"Version {version}: only Version 1 is known")
    length = _integer(lines, header, "Length")
    if length not in LENGTHS:
        raise lines.error(
            header["Length"][0], f"Length must be in {LENGTHS.start}..{LENGTHS.stop - 1}"
        )
    components = _integer(lines, header, "Components")
    if components not in (1, 2, 3):
        raise lines.error(header["Components"][0], "Components must be 1, 2 or 3")
    low, high = 0.0, 1.0
    if "From" in header:
        lineno, arguments = header["From"]
        low, high = lines.numbers(lineno, arguments, 2, "From min max")
        if not low < high:
            raise lines.error(lineno, f"From needs min < max, found {low} {high}")

    table = np.zeros((length, 3), np.float32)
    filled = 0
    what = "one per component"
    for _, rows in lines.rows(length, components, what, end="}"):
        table[filled : filled + len(rows), :components] = rows
        filled += len(rows)
    if components == 1:
        table[:, 1:] = table[:, :1]
    lineno, line = lines.expect("'}' ending the table")
    if line != "}":
        raise lines.error(lineno, f"expected '}}' after the {length} table lines of Length")
    rest = sum(1 for _ in lines)
    if rest:
        notes.append(f"{lines.source}: {rest} line(s) after '}}' passed over")
    return LutFile(Lut1D(table, low, high), None, lines.comments, "spi1d", notes)


def _integer(lines: TextLines, header: dict[str, tuple[int, list[str]]], keyword: str) -> int:
    """The one integer argument of ``keyword``'s line."""
    lineno, arguments = header[keyword]
    if len(arguments) != 1 or not arguments[0].isdigit():
        raise lines.error(lineno, f"'{keyword}' needs one whole number")
    return int(arguments[0])


def format_spi1d(lut_file: LutFile, decimals: int = 6) -> str:
    """The text of a .spi1d file for ``lut_file``: 3 components with ``decimals`` fixed decimals,
    the title and comments as '#' lines after the table (no .spi1d field holds them).

    ValueError unless the LUT is a Lut1D whose domain is the same on all channels, of a length
    OpenColorIO reads (2..300000)."""
    lut = lut_file.lut
    if not isinstance(lut, Lut1D):
        raise ValueError("a .spi1d holds a 1D LUT")
    if np.ptp(lut.domain_min) or np.ptp(lut.domain_max):
        raise ValueError(".spi1d needs the same input domain on all channels ('From min max')")
    if lut.size not in LENGTHS:
        raise ValueError(f".spi1d Length must be in {LENGTHS.start}..{LENGTHS.stop - 1}")
    header = [
        "Version 1",
        f"From {exact(lut.domain_min[0])} {exact(lut.domain_max[0])}",
        f"Length {lut.size}",
        "Components 3",
        "{",
    ]
    table = format_rows(lut.table, f"    %.{decimals}f %.{decimals}f %.{decimals}f\n", decimals)
    return "\n".join(header) + "\n" + table + "}\n" + comment_lines(lut_file)


def write_spi1d(lut_file: LutFile, path: str | os.PathLike, decimals: int = 6) -> None:
    """Write ``lut_file`` to ``path`` atomically (``format_spi1d``)."""
    write_file(path, format_spi1d(lut_file, decimals).encode("utf-8"))


def _recognises(head: bytes) -> bool:
    """A .spi1d file: a first line starting with 'Version', and a 'Length' line."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return start.startswith(b"Version") and b"Length" in start


FORMAT = LutFormat(
    name="spi1d",
    description="Sony Imageworks .spi1d (1D)",
    extensions=(".spi1d",),
    recognises=_recognises,
    read=read_spi1d,
    write=write_spi1d,
)
