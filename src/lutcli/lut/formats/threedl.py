""".3dl LUT files: Autodesk Lustre and Flame, Nuke, Photoshop's "Export Color Lookup" 3DL.

    3DMESH
    Mesh 4 12
    0 64 128 192 256 320 384 448 512 576 640 704 768 832 896 960 1023
    0 0 0
    0 0 256
    ...
    LUT8
    gamma 1.0

Integers throughout. The input mesh (the first line of more than 3 numbers) gives the input
code values of the lattice points on each axis, so its largest value tells the input depth
(1023: 10 bits); Lustre's ``3DMESH`` / ``Mesh IN OUT`` keywords and trailing ``LUT8`` /
``gamma`` lines are optional, and so is the mesh itself (Lustre files may lack it: the table's
N³ lines give its size). Each table line is the output color of one lattice point, BLUE
fastest and red slowest (the reverse of .cube). Outputs are code values of a depth the file
does not always state: ``Mesh IN OUT`` gives it when present, else it is inferred from the
largest value as OpenColorIO does (up to twice the depth's top: 511 or less is 8-bit, 2047
10-bit, 8191 12-bit, above 16-bit). A mesh that is not evenly spaced is applied as a curve
before the table, as OpenColorIO reads it.
"""

from __future__ import annotations

import os
import re

import numpy as np

from lutcli.errors import LutFormatError
from lutcli.lut.formats.common import LutFormat, check_finite, read_text, write_file
from lutcli.lut.formats.text import comment_lines, format_rows, quote
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence, bake, bake_size

# Output depths written (bits per code value), and the default: Lustre's and OpenColorIO's.
OUTPUT_BITS = (10, 12, 16)
DEFAULT_OUTPUT_BITS = 12
# The input mesh is written with 10-bit code values (0..1023), as every writer does.
MESH_BITS = 10
# The fewest values of an input mesh: a line of 3 is a table line.
MIN_MESH = 4
# The most lattice points written per axis (as .cube allows): a 10-bit mesh spaced as Lustre
# spaces it keeps distinct values up to 683.
MAX_SIZE = 256
# OpenColorIO's rule: an integer file whose largest value is below this is not a .3dl file.
LOWEST_PLAUSIBLE_MAX = 128
# Mesh values within this many code values of an even spacing are even (OpenColorIO's test).
MESH_TOLERANCE = 2
# Anything that is not plain table data (digits, spaces, tabs, line ends).
_NOT_DATA = re.compile(r"[^0-9 \t\n]")
# A code value of 10 digits or more: beyond any depth (and int64 arithmetic on them is exact).
_TOO_LONG = re.compile(r"[0-9]{10}")
# Characters of table data parsed at a time: fast, with small temporaries for any table.
_BLOCK_CHARS = 1 << 20


def likely_bits(largest: int) -> int:
    """The depth of code values whose largest is ``largest``, as OpenColorIO infers it: the
    first of 8, 10, 12, 14 bits whose top, overshot twice, holds it (14 counts as 16, which
    writers use instead); 16 beyond."""
    for bits in (8, 10, 12, 14):
        if largest < 2 ** (bits + 1):
            return 16 if bits == 14 else bits
    return 16


# Reading ----------------------------------------------------------------------------------------


def read_3dl(path: str | os.PathLike) -> LutFile:
    """Read a .3dl file; LutFormatError (one line, naming the file and line) if unusable."""
    return _Reader(path).read()


def _is_keyword(token: str) -> bool:
    """Whether a line starting with ``token`` is a keyword line ("3DMESH", "Mesh", "LUT8")."""
    return token[0].isalpha() or token.upper() == "3DMESH"


def _token_problem(token: str) -> str:
    """Why ``token`` is not a code value (an integer of up to 9 digits); '' when it is."""
    if not (token.isascii() and token.isdigit()):
        return f"not a non-negative integer: {quote(token)}"
    if len(token) > 9:
        return f"integer too large: {quote(token)}"
    return ""


class _Reader:
    """The lines of one .3dl file, read in order: keywords and comments one by one, the table
    in bulk from its first line on."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.source = str(path)
        text = read_text(path, "a .3dl file")
        self.text = text if text.endswith("\n") else text + "\n"
        self.comments: list[str] = []
        self.notes: list[str] = []
        self.mesh: np.ndarray | None = None
        self.mesh_lineno = 0
        self.stated_bits: tuple[int, int] | None = None  # (line, output bits) from "Mesh"
        self.chunks: list[np.ndarray] = []

    def error(self, lineno: int | None, message: str) -> LutFormatError:
        where = f"{self.source}:{lineno}" if lineno is not None else self.source
        return LutFormatError(f"{where}: {message}")

    def read(self) -> LutFile:
        text, position, lineno = self.text, 0, 0
        while position < len(text):
            if self.chunks:  # inside the table: plain data up to the next line of anything else
                found = _NOT_DATA.search(text, position)
                end = text.rfind("\n", position, found.start()) + 1 if found else len(text)
                if end > position:
                    lineno = self._table_block(position, end, lineno)
                    position = end
                    continue
            end = text.index("\n", position) + 1
            lineno += 1
            self._line(lineno, text[position:end].strip())
            position = end
        return self._lut_file(lineno)

    def _line(self, lineno: int, line: str) -> None:
        """One line outside the bulk of the table: a comment, keyword, the mesh or a row."""
        if not line:
            return
        if line[0] == "#":
            self.comments.append(line[1:].strip())
            return
        if line[0] == "<":
            raise self.error(lineno, "a line starting with '<': XML (a .clf file?), not .3dl")
        tokens = line.split()
        if _is_keyword(tokens[0]):
            self._keyword(lineno, tokens)
            return
        if len(tokens) == 3:
            self.chunks.append(self._integers(lineno, tokens)[None])
            return
        if len(tokens) < 3 or self.chunks:
            raise self.error(lineno, f"expected 3 integers (a table line), found {len(tokens)}")
        if self.mesh is not None:
            raise self.error(
                lineno, f"a second input mesh (the first is on line {self.mesh_lineno})"
            )
        mesh = self._integers(lineno, tokens)
        steps = np.diff(mesh)
        if (steps <= 0).any():
            at = int(np.argmax(steps <= 0))
            raise self.error(
                lineno, f"the input mesh must increase, but {mesh[at + 1]} follows {mesh[at]}"
            )
        if mesh[-1] < LOWEST_PLAUSIBLE_MAX:
            raise self.error(
                lineno,
                f"the input mesh ends at {mesh[-1]}: too low for a .3dl file (10-bit meshes "
                "end at 1023)",
            )
        self.mesh, self.mesh_lineno = mesh, lineno

    def _integers(self, lineno: int, tokens: list[str]) -> np.ndarray:
        for token in tokens:
            problem = _token_problem(token)
            if problem:
                raise self.error(lineno, problem)
        return np.array([int(token) for token in tokens], np.int64)

    def _keyword(self, lineno: int, tokens: list[str]) -> None:
        """Lustre's keywords: ``Mesh IN OUT`` states the output depth; ``3DMESH`` and ``LUT8``
        need nothing; ``gamma`` other than 1 and unknown keywords are passed over with a note."""
        keyword = tokens[0].lower()
        where = f"{self.source}:{lineno}"
        if keyword == "3dmesh" or re.fullmatch(r"lut[0-9]+", keyword):
            return
        if keyword == "mesh":
            arguments = tokens[1:]
            if len(arguments) != 2 or any(_token_problem(token) for token in arguments):
                self.notes.append(f"{where}: 'Mesh' line not understood, ignored")
            elif not 8 <= int(arguments[1]) <= 16:
                self.notes.append(f"{where}: 'Mesh' gives {arguments[1]}-bit outputs, ignored")
            elif self.stated_bits is None:
                self.stated_bits = (lineno, int(arguments[1]))
            return
        if keyword == "gamma":
            try:
                gamma = float(tokens[1]) if len(tokens) == 2 else None
            except ValueError:
                gamma = None
            if gamma != 1:
                self.notes.append(
                    f"{where}: {quote(' '.join(tokens))} ignored (as OpenColorIO does)"
                )
            return
        self.notes.append(f"{where}: unknown keyword {quote(tokens[0])} ignored")

    def _table_block(self, start: int, end: int, lineno: int) -> int:
        """Parse the plain table lines text[start:end] in blocks; the last line number read."""
        text = self.text
        while start < end:
            stop = text.rfind("\n", start, min(end, start + _BLOCK_CHARS)) + 1
            stop = stop if stop > start else text.index("\n", start) + 1  # one long line
            block = text[start:stop]
            codes = np.frombuffer(block.encode("ascii"), np.uint8)
            space = codes <= 32
            starts = ~space
            starts[1:] &= space[:-1]
            per_line = np.diff(np.cumsum(starts, dtype=np.int64)[codes == 10], prepend=0)
            bad = (per_line != 0) & (per_line != 3)
            if bad.any():
                at = int(np.argmax(bad))
                raise self.error(
                    lineno + at + 1, f"expected 3 integers (a table line), found {per_line[at]}"
                )
            too_long = _TOO_LONG.search(block)
            if too_long:
                token = block[too_long.start() :].split()[0]
                at = block.count("\n", 0, too_long.start())
                raise self.error(lineno + at + 1, f"integer too large: {quote(token)}")
            if per_line.any():  # numpy reads a number even from blank text
                self.chunks.append(np.fromstring(block, dtype=np.int64, sep=" ").reshape(-1, 3))
            lineno += len(per_line)
            start = stop
        return lineno

    def _lut_file(self, last_lineno: int) -> LutFile:
        if not self.chunks:
            what = "after the input mesh" if self.mesh is not None else "(3 integers a line)"
            raise self.error(None, f"no table lines {what}")
        rows = np.concatenate(self.chunks)
        self.chunks = []
        size = round(len(rows) ** (1 / 3))
        if size**3 != len(rows) or size < 2:
            if self.mesh is None:
                raise self.error(
                    None,
                    f"{len(rows)} table lines: not N³ for any lattice size N >= 2 "
                    "(file truncated?)",
                )
            points = len(self.mesh)
            raise self.error(
                None,
                f"expected {points**3} table lines ({points}³, for the {points}-value input "
                f"mesh on line {self.mesh_lineno}), found {len(rows)} (file truncated?)",
            )
        bits = self._output_bits(int(rows.max()))
        # Rows are [r, g, b] with blue fastest: the axes reversed give lutcli's [c, b, g, r].
        table = rows.reshape(size, size, size, 3).transpose(3, 2, 1, 0) / (2**bits - 1)
        lut = Lut3D(table.astype(np.float32))
        if self.mesh is not None:
            lut = self._with_mesh(lut)
        return LutFile(lut, None, self.comments, "3dl", self.notes)

    def _output_bits(self, largest: int) -> int:
        """The depth of the outputs: the one ``Mesh`` states if its values fit it (up to twice
        its top, as OpenColorIO allows), else the one inferred from the largest value."""
        inferred = likely_bits(largest)
        if self.stated_bits is not None:
            lineno, bits = self.stated_bits
            where = f"{self.source}:{lineno}"
            if largest < 2 ** (bits + 1):
                if bits != inferred:
                    self.notes.append(
                        f"{where}: outputs read as {bits}-bit, as 'Mesh' says; OpenColorIO, "
                        f"which goes by their largest value ({largest}), reads {inferred}-bit"
                    )
                return bits
            self.notes.append(
                f"{where}: 'Mesh' says {bits}-bit outputs, but they reach {largest}: read as "
                f"{inferred}-bit"
            )
        if largest < LOWEST_PLAUSIBLE_MAX:
            raise self.error(
                None,
                f"the largest output value is {largest}: too low for a .3dl file (its outputs "
                "reach 1023, 4095 or 65535), and no 'Mesh' line states their depth",
            )
        return inferred

    def _with_mesh(self, lut: Lut3D) -> Lut3D | LutSequence:
        """``lut`` after the input mesh: nothing for an evenly spaced one (any length: what
        matters is that it spans the inputs), else the mesh as a curve before the table."""
        mesh = self.mesh
        where = f"{self.source}:{self.mesh_lineno}"
        top = 2 ** likely_bits(int(mesh[-1])) - 1
        even = np.arange(len(mesh)) * (top / (len(mesh) - 1))
        if (np.abs(mesh - even) < MESH_TOLERANCE).all():
            if len(mesh) != lut.size:
                self.notes.append(
                    f"{where}: the input mesh has {len(mesh)} values, the table {lut.size}³ "
                    "lines: read as a table spanning the inputs, as OpenColorIO does"
                )
            return lut
        self.notes.append(
            f"{where}: the input mesh is not evenly spaced over 0..{top}: applied as a curve "
            "before the table, as OpenColorIO does"
        )
        curve = Lut1D(np.repeat(mesh[:, None] / top, 3, axis=1))
        return LutSequence([curve, lut])


# Writing ----------------------------------------------------------------------------------------


def format_3dl(lut_file: LutFile, output_bits: int = DEFAULT_OUTPUT_BITS) -> str:
    """The text of a .3dl file for ``lut_file``, as Lustre and OpenColorIO's "lustre" baker
    write it: the title and comments as '#' lines, ``3DMESH``, ``Mesh IN OUT``, a 10-bit input
    mesh (none for 2 or 3 points, which would read as a table line), then integer outputs of
    ``output_bits`` (10, 12 or 16) bits, blue fastest, clipped to the depth's range.

    The table is the LUT's own 3D table (the largest, in a sequence), or the LUT baked to 33³.
    Readers that infer the depth from the largest value (OpenColorIO) misread a LUT whose
    outputs all stay under half the depth's top; lutcli reads ``Mesh``. ffmpeg's lut3d reads
    no keywords nor sizes but 17³: give it a .cube. ValueError for an input domain other
    than 0..1 (the mesh spans the inputs), a lattice over 256 points, non-finite values or an
    unknown depth.
    """
    if output_bits not in OUTPUT_BITS:
        raise ValueError(
            f"a .3dl file is written with 10, 12 or 16-bit outputs, not {output_bits!r}"
        )
    lut = lut_file.lut
    low, high = lut.domain_min, lut.domain_max
    if not ((low == 0).all() and (high == 1).all()):
        raise ValueError(
            f"a .3dl file holds a LUT over inputs 0..1; this one's input domain is "
            f"{low.tolist()}..{high.tolist()} (bake it over 0..1 first)"
        )
    size = bake_size(lut)
    if size > MAX_SIZE:
        raise ValueError(f"a .3dl file is written with at most {MAX_SIZE} points per axis")
    table = bake(lut, size).table
    check_finite(table)
    top, codes = 2**output_bits - 1, 2**MESH_BITS
    # As Lustre, Flame and Nuke space it: steps of 1024 / (N - 1), the last value 1023 (0 64
    # 128 ... 960 1023 for 17 points); even within OpenColorIO's tolerance for any size.
    mesh = np.minimum(np.round(np.arange(size) * (codes / (size - 1))), codes - 1).astype(int)
    # lutcli's [c, b, g, r] with its axes reversed: rows [r, g, b], blue fastest.
    rows = table.transpose(3, 2, 1, 0).reshape(-1, 3).astype(np.float64) * top
    header = ["3DMESH", f"Mesh {(size - 1).bit_length() - 1} {output_bits}"]  # 2^IN + 1 points
    if size >= MIN_MESH:  # shorter, it would read as a table line: the line count tells the size
        header.append(" ".join(map(str, mesh.tolist())))
    return (
        comment_lines(lut_file)
        + "".join(line + "\n" for line in header)
        + format_rows(rows.clip(0, top), "%d %d %d\n", 0)
        + "\nLUT8\ngamma 1.0\n"
    )


def write_3dl(
    lut_file: LutFile, path: str | os.PathLike, output_bits: int = DEFAULT_OUTPUT_BITS
) -> None:
    """Write ``lut_file`` to ``path`` atomically (``format_3dl``)."""
    write_file(path, format_3dl(lut_file, output_bits).encode("utf-8"))


def recognises(head: bytes) -> bool:
    """A .3dl file: Lustre's ``3DMESH`` keyword, or an input mesh (4 or more integers) as the
    first line after comments and keywords."""
    for line in head.removeprefix(b"\xef\xbb\xbf").decode("latin-1").splitlines():
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if tokens[0].upper() == "3DMESH":
            return True
        if _is_keyword(tokens[0]):
            continue
        return len(tokens) >= MIN_MESH and all(
            token.isascii() and token.isdigit() for token in tokens
        )
    return False


FORMAT = LutFormat(
    name="3dl",
    description="Autodesk .3dl (Lustre, Flame, Nuke, Photoshop)",
    extensions=(".3dl",),
    recognises=recognises,
    read=read_3dl,
    write=write_3dl,
)
