"""Sony Pictures Imageworks .spi3d files: a 3D LUT over 0..1, as OpenColorIO reads and bakes
them.

    SPILUT 1.0
    3 3
    33 33 33
    0 0 0 0.000000 0.000000 0.000000
    0 0 1 0.000000 0.000000 0.031250
    ...

Each table line gives its lattice point's red, green and blue indices, then the output color,
so lines may come in any order (OpenColorIO writes blue fastest, as lutcli does); every point
must be given once. Lines starting with '#' are comments (colour-science writes them after the
table, with the file's title as the first); text after the last point is passed over, with a
note, as OpenColorIO does.
"""

from __future__ import annotations

import os

import numpy as np

from lutcli.lut.formats.common import LutFormat, write_file
from lutcli.lut.formats.text import TextLines, comment_lines, format_rows, quote
from lutcli.lut.luts import Lut, Lut3D, LutFile, bake, bake_size

# Lattice points per axis: OpenColorIO's limits.
SIZES = range(2, 130)


def read_spi3d(path: str | os.PathLike) -> LutFile:
    """Read a .spi3d file; LutFormatError (one line, naming the file and line) if unusable."""
    lines = TextLines(path, "a .spi3d file", comment="#")
    lineno, line = lines.expect("'SPILUT 1.0'")
    if not line.lower().startswith("spilut"):
        raise lines.error(lineno, f"expected 'SPILUT 1.0', found {quote(line)}")
    lineno, line = lines.expect("'3 3'")
    if line.split() != ["3", "3"]:
        raise lines.error(lineno, f"expected '3 3' (3 inputs, 3 outputs), found {quote(line)}")
    lineno, line = lines.expect("the lattice size 'N N N'")
    tokens = line.split()
    if len(tokens) != 3 or not all(token.isdigit() for token in tokens):
        raise lines.error(lineno, f"expected the lattice size 'N N N', found {quote(line)}")
    if len(set(map(int, tokens))) != 1:
        raise lines.error(lineno, f"lattice sizes differ ({line}): lutcli reads cubes N N N")
    size = int(tokens[0])
    if size not in SIZES:
        raise lines.error(lineno, f"lattice size must be in {SIZES.start}..{SIZES.stop - 1}")

    # Rows of the flat table (size³, 3), red fastest: row r + size * (g + size * b).
    table = np.empty((size**3, 3), np.float32)
    given = np.zeros(size**3, bool)
    what = "red, green and blue indices, then the color"
    for linenos, rows in lines.rows(size**3, 6, what):
        indices = rows[:, :3]
        bad = ((indices != np.round(indices)) | (indices < 0) | (indices >= size)).any(axis=1)
        if bad.any():
            at = int(np.argmax(bad))
            raise lines.error(
                linenos[at], f"indices {_indices(indices[at])} are not lattice points 0..{size - 1}"
            )
        flat = indices.astype(np.int64) @ np.array([1, size, size * size])
        order = np.argsort(flat, kind="stable")
        twice = flat[order][1:] == flat[order][:-1]
        if twice.any() or given[flat].any():
            at = int(order[1:][twice][0]) if twice.any() else int(np.argmax(given[flat]))
            raise lines.error(linenos[at], f"lattice point {_indices(indices[at])} given twice")
        given[flat] = True
        table[flat] = rows[:, 3:]
    rest = sum(1 for _ in lines)
    notes = [f"{lines.source}: {rest} line(s) after the table passed over"] if rest else []
    lut = Lut3D(table.T.reshape(3, size, size, size))
    return LutFile(lut, None, lines.comments, "spi3d", notes)


def _indices(indices: np.ndarray) -> str:
    return " ".join(f"{value:g}" for value in indices)


def spi3d_table(lut: Lut) -> Lut3D:
    """The 3D table a .spi3d file holds for ``lut``: a Lut3D as it is, anything else baked to
    the size of its largest 3D table (or 33³). ValueError for an input domain other than 0..1
    (.spi3d has no domain) or a size OpenColorIO does not read."""
    low, high = lut.domain_min, lut.domain_max
    if not (low == 0).all() or not (high == 1).all():
        raise ValueError(f".spi3d tables span 0..1; this LUT's input domain is {low}..{high}")
    if not isinstance(lut, Lut3D):
        lut = bake(lut, bake_size(lut))
    if lut.size not in SIZES:
        raise ValueError(f".spi3d lattice size must be in {SIZES.start}..{SIZES.stop - 1}")
    return lut


def format_spi3d(lut_file: LutFile, decimals: int = 6) -> str:
    """The text of a .spi3d file for ``lut_file`` (``spi3d_table``): blue fastest with explicit
    indices, values with ``decimals`` fixed decimals, the title and comments as '#' lines after
    the table."""
    lut = spi3d_table(lut_file.lut)
    size = lut.size
    # [c, b, g, r] -> rows [r, g, b]: blue fastest, each row led by its indices.
    indices = np.indices((size, size, size)).reshape(3, -1).T
    rows = np.concatenate([indices, lut.table.transpose(3, 2, 1, 0).reshape(-1, 3)], axis=1)
    row_format = f"%d %d %d %.{decimals}f %.{decimals}f %.{decimals}f\n"
    header = f"SPILUT 1.0\n3 3\n{size} {size} {size}\n"
    return header + format_rows(rows, row_format, decimals) + comment_lines(lut_file)


def write_spi3d(lut_file: LutFile, path: str | os.PathLike, decimals: int = 6) -> None:
    """Write ``lut_file`` to ``path`` atomically (``format_spi3d``)."""
    write_file(path, format_spi3d(lut_file, decimals).encode("utf-8"))


def _recognises(head: bytes) -> bool:
    """A .spi3d file: a first line starting with 'SPILUT'."""
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:6].upper() == b"SPILUT"


FORMAT = LutFormat(
    name="spi3d",
    description="Sony Imageworks .spi3d (3D)",
    extensions=(".spi3d",),
    recognises=_recognises,
    read=read_spi3d,
    write=write_spi3d,
)
