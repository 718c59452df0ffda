""".cube LUT files: Adobe Cube LUT Specification 1.0 and the DaVinci Resolve dialect.

Adobe files hold one table (LUT_1D_SIZE or LUT_3D_SIZE) whose input domain is DOMAIN_MIN..
DOMAIN_MAX. Resolve files may hold both: a 1D shaper (its data lines first) applied before a 3D
table, with LUT_1D_INPUT_RANGE / LUT_3D_INPUT_RANGE as their input domains. Tables follow the
``lutcli.lut`` convention: 3D ``(3, D, D, D)`` indexed ``[c, b, g, r]``, 1D ``(N, 3)``.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import BinaryIO

import numpy as np

from lutcli.errors import LutFormatError, os_error_reason
from lutcli.lut.formats.common import LutFormat, open_lut_file, size_limit, too_large, write_file
from lutcli.lut.formats.text import exact, format_rows, quote
from lutcli.lut.luts import Lut, Lut1D, Lut3D, LutFile, LutSequence, bake, bake_size, tables

# Inclusive size limits of the specification, per size keyword.
SIZE_LIMITS = {"LUT_1D_SIZE": (2, 65536), "LUT_3D_SIZE": (2, 256)}
# Resolve's flags for a table made for video-range (legal) values, in and out.
VIDEO_RANGE_KEYWORDS = ("LUT_IN_VIDEO_RANGE", "LUT_OUT_VIDEO_RANGE")
# Video (legal) range in lutcli's full-range 0..1 values: 10-bit code values 64 and 940.
VIDEO_BLACK, VIDEO_WHITE = 64 / 1023, 940 / 1023
_KEYWORDS = frozenset(
    ("TITLE", "DOMAIN_MIN", "DOMAIN_MAX", "LUT_1D_INPUT_RANGE", "LUT_3D_INPUT_RANGE")
    + tuple(SIZE_LIMITS)
    + VIDEO_RANGE_KEYWORDS
)
# Bytes of text parsed at a time: large enough to be fast, small enough for small temporaries.
_BLOCK_BYTES = 1 << 20
# No line of a .cube file is longer (a title, a comment): a longer one is not a .cube file.
_MAX_LINE_BYTES = 1 << 20
# Comment text kept at most; the rest is read past (a file of comments must not fill memory).
_MAX_COMMENT_CHARS = 1 << 20
_BOM = "\ufeff".encode()
# The bytes of plain table data: anything else (letters, '#', '\r') takes the careful path.
_NUMBER_BYTES = b"0123456789.+-eE \t\n"
# A number as fixed-width writers print it: an optional minus, digits, optional decimals.
_FIXED_NUMBER = re.compile(rb"(-?)([0-9]{1,15})(?:\.([0-9]{0,15}))?")


# Reading ----------------------------------------------------------------------------------------


def read_cube(path: str | os.PathLike) -> LutFile:
    """Read a .cube file; LutFormatError (one line, naming the file) if it cannot be used.

    The text is parsed in blocks straight into the table, so memory is about the table's own
    size; a file over the size limit (``$LUTCLI_MAX_LUT_MB``) is refused before it is read.
    """
    with open_lut_file(path, "a .cube file") as handle:
        return _parse(_blocks(handle, str(path), size_limit()), str(path))


def parse_cube(text: str, source: str = "<string>") -> LutFile:
    """Parse the text of a .cube file; ``source`` names it in LutFormatError messages."""
    data = text.encode("utf-8", "surrogateescape")
    return _parse(_blocks(io.BytesIO(data), source, len(data)), source)


def _blocks(handle: BinaryIO, source: str, limit: int) -> Iterator[bytes]:
    """The bytes of ``handle`` in blocks of whole lines, each line ending in '\n' ('\r\n' and
    '\r' become '\n'); LutFormatError for binary data, an endless line or over ``limit``."""
    carry, total = b"", 0
    while True:
        try:
            chunk = handle.read(_BLOCK_BYTES)
        except OSError as error:
            raise LutFormatError(f"{source}: cannot read: {os_error_reason(error)}") from None
        total += len(chunk)
        if total > limit:  # a file that grows, or a pipe
            raise LutFormatError(too_large(source, total, limit))
        if b"\0" in chunk:
            raise LutFormatError(f"{source}: binary data, not a text .cube file")
        data = carry + chunk
        held = b""
        if chunk and data.endswith(b"\r"):  # its '\n' may start the next chunk
            data, held = data[:-1], b"\r"
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not chunk:
            if data:
                yield data if data.endswith(b"\n") else data + b"\n"
            return
        end = data.rfind(b"\n") + 1
        carry = data[end:] + held
        if len(carry) > _MAX_LINE_BYTES:
            raise LutFormatError(
                f"{source}: a line over {_MAX_LINE_BYTES >> 20} MiB: not a .cube file"
            )
        if end:
            yield data[:end]


def _decode(raw: bytes) -> str:
    """A line's text: UTF-8, or legacy 8-bit text in a title or a comment."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class _Comments(list):
    """The comments of a file, without the '#', up to _MAX_COMMENT_CHARS of text."""

    size = 0

    def add(self, text: str) -> None:
        if self.size + len(text) <= _MAX_COMMENT_CHARS:
            self.append(text)
            self.size += len(text)


def _parse(blocks: Iterable[bytes], source: str) -> LutFile:
    """A LutFile from the lines of ``blocks``: the keywords line by line, then the table data
    block by block into a table allocated from the size keywords."""
    blocks = iter(blocks)
    header = _Header(source)
    comments = _Comments()
    lineno, data = 0, b""
    for index, block in enumerate(blocks):
        if index == 0:
            block = block.removeprefix(_BOM)
        start = 0
        while start < len(block):
            end = block.index(b"\n", start)
            line = _decode(block[start:end]).strip()
            if line and line[0] != "#" and not line[0].isalpha():
                data = block[start:]
                break
            lineno += 1
            if line[:1] == "#":
                comments.add(line[1:].strip())
            elif line:
                header.add(lineno, line)
            start = end + 1
        if data:
            break
    size1, size3 = header.size("LUT_1D_SIZE"), header.size("LUT_3D_SIZE")
    if size1 is None and size3 is None:
        if not header.entries and not data:
            raise LutFormatError(f"{source}: empty file: no keywords and no table data")
        hint = ""
        first = data[: data.find(b"\n")].split()
        if len(first) > 3 and all(token.isdigit() for token in first):
            hint = " (its first line of numbers is an input mesh: a .3dl file?)"
        raise LutFormatError(f"{source}: no LUT_1D_SIZE or LUT_3D_SIZE keyword{hint}")
    domains = header.domains(size1, size3)

    table = _Table(size1, size3, source)
    for block in chain([data], blocks):
        table.add(_rows(block, lineno, source, comments), block, lineno)
        lineno += block.count(b"\n")
    table.check_complete()

    luts: list[Lut1D | Lut3D] = []
    if "LUT_IN_VIDEO_RANGE" in header.entries:  # full-range values into the table's legal range
        luts.append(Lut1D(np.array([[VIDEO_BLACK] * 3, [VIDEO_WHITE] * 3])))
    if size1 is not None:
        luts.append(Lut1D(table.shaper, *domains.pop(0)))
    if size3 is not None:
        luts.append(Lut3D(table.lut.reshape(3, size3, size3, size3), *domains.pop(0)))
    if "LUT_OUT_VIDEO_RANGE" in header.entries:  # the table's legal-range output to full range
        luts.append(Lut1D(np.array([[0.0] * 3, [1.0] * 3]), VIDEO_BLACK, VIDEO_WHITE))
    lut = luts[0] if len(luts) == 1 else LutSequence(luts)
    return LutFile(lut, header.title(), list(comments), "cube", header.notes)


class _Table:
    """The table rows of a file, filled block by block: the 1D shaper's rows first, then the
    3D table's, red fastest, stored channel first (3, D³) as ``Lut3D`` takes them."""

    def __init__(self, size1: int | None, size3: int | None, source: str) -> None:
        self.source = source
        self.size1 = size1 or 0
        self.shaper = np.empty((self.size1, 3), np.float32)
        self.lut = np.empty((3, (size3 or 0) ** 3), np.float32)
        self.expected = self.size1 + self.lut.shape[1]
        counts = [(size1, "LUT_1D_SIZE"), (size3, "LUT_3D_SIZE")]
        self.what = " + ".join(f"{keyword} {size}" for size, keyword in counts if size)
        self.filled = 0

    def add(self, rows: np.ndarray, block: bytes, first_lineno: int) -> None:
        """Store the (n, 3) ``rows`` read from ``block`` (its lines after ``first_lineno``)."""
        room = self.expected - self.filled
        if len(rows) > room:
            lineno = _data_lineno(block, first_lineno, room)
            raise LutFormatError(
                f"{self.source}:{lineno}: expected {self.expected} table lines for {self.what}, "
                "found more"
            )
        shaped = max(0, min(len(rows), self.size1 - self.filled))
        self.shaper[self.filled : self.filled + shaped] = rows[:shaped]
        start = self.filled + shaped - self.size1
        self.lut[:, start : start + len(rows) - shaped] = rows[shaped:].T
        self.filled += len(rows)

    def check_complete(self) -> None:
        if self.filled < self.expected:
            raise LutFormatError(
                f"{self.source}: expected {self.expected} table lines for {self.what}, "
                f"found {self.filled} (file truncated?)"
            )


def _rows(block: bytes, first_lineno: int, source: str, comments: _Comments) -> np.ndarray:
    """The table rows (n, 3) float32 of the lines of ``block``; their comments go to
    ``comments``. Plain data is parsed in bulk; LutFormatError names the first bad line."""
    body = block
    if b"#" in block:
        kept = []
        for raw in block.split(b"\n")[:-1]:
            if raw.lstrip().startswith(b"#"):
                comments.add(_decode(raw.lstrip()[1:]).strip())
            else:
                kept.append(raw)
        body = b"".join(line + b"\n" for line in kept)
    values = _fixed_width(body)
    if values is None:
        values = _free_form(body)
    if values is not None:
        with np.errstate(over="ignore"):  # too large for float32: inf, found below
            rows = values.astype(np.float32)
        if np.isfinite(rows).all():
            return rows
    lineno = first_lineno
    for raw in block.split(b"\n")[:-1]:
        lineno += 1
        line = _decode(raw).strip()
        problem = _row_problem(line.split()) if line and line[0] != "#" else ""
        if problem:
            raise LutFormatError(f"{source}:{lineno}: {problem}")
    raise LutFormatError(f"{source}:{first_lineno + 1}: unreadable table data")  # not reached


def _fixed_width(body: bytes) -> np.ndarray | None:
    """The rows of ``body`` when every line has the layout of the first, digits aside (as most
    writers print tables: "0.250000 0.500000 1.000000"): parsed by columns, exactly as float()
    would; None when the lines differ (then ``_free_form`` reads them)."""
    width = body.find(b"\n") + 1
    first = body[:width]
    tokens = first.split()
    if width < 6 or len(body) % width or len(tokens) != 3:
        return None
    # Column by column: a row of the transposed text is one character of every line.
    columns = np.frombuffer(body, np.uint8).reshape(-1, width).T.copy()
    values = np.zeros((3, columns.shape[1]))
    column = 0
    for index, token in enumerate(tokens):
        number = _FIXED_NUMBER.fullmatch(token)
        column = first.index(token, column)
        digits = [column + i for i, code in enumerate(token) if 48 <= code <= 57]
        column += len(token)
        if number is None or len(digits) > 15:  # more would not be exact in a float64
            return None
        mantissa = values[index]
        for position in digits:
            digit = columns[position] - np.uint8(48)  # wraps around: any other byte is over 9
            if digit.max() > 9:
                return None
            mantissa *= 10
            mantissa += digit
        # An integer under 2^53 over a power of ten, both exact: one rounding, as float() does.
        sign = -1.0 if number.group(1) else 1.0
        mantissa /= sign * 10.0 ** len(number.group(3) or b"")
    is_digit = (columns[:, 0] >= 48) & (columns[:, 0] <= 57)
    if not (columns[~is_digit] == columns[~is_digit, :1]).all():
        return None
    return values.T


def _free_form(body: bytes) -> np.ndarray | None:
    """The rows of ``body`` when it is plain numbers, three a line (blank lines aside); None
    for anything else (then the lines are looked at one by one)."""
    if body.translate(None, _NUMBER_BYTES):
        return None
    codes = np.frombuffer(body, np.uint8)
    space = codes <= 32
    starts = ~space
    starts[1:] &= space[:-1]
    per_line = np.diff(np.cumsum(starts, dtype=np.int32)[codes == 10], prepend=0)
    if not ((per_line == 0) | (per_line == 3)).all():
        return None
    count = int(per_line.sum())
    if not count:
        return np.empty((0, 3))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy warns (or raises) when it stops early
            values = np.fromstring(body, dtype=np.float64, sep=" ")
    except (ValueError, DeprecationWarning):
        return None
    # Every token a number, none read as two ("1-2"): as many numbers as tokens.
    return values.reshape(-1, 3) if values.size == count else None


def _data_lineno(block: bytes, first_lineno: int, index: int) -> int:
    """The line number of the table row ``index`` (from 0) among the lines of ``block``."""
    lineno = first_lineno
    for raw in block.split(b"\n")[:-1]:
        lineno += 1
        line = raw.strip()
        if line and not line.startswith(b"#"):
            if index == 0:
                return lineno
            index -= 1
    return lineno


class _Header:
    """The keyword lines before the table data: keyword -> (line number, argument text)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.entries: dict[str, tuple[int, str]] = {}
        self.notes: list[str] = []

    def error(self, keyword: str, message: str) -> LutFormatError:
        """An error located on the line of ``keyword``."""
        return LutFormatError(f"{self.source}:{self.entries[keyword][0]}: {message}")

    def add(self, lineno: int, line: str) -> None:
        """Record one keyword line; a repeated keyword is an error, an unknown one a note (other
        tools write keywords of their own, which readers of real exports must pass over)."""
        keyword, *rest = line.split(None, 1)
        if keyword not in _KEYWORDS:
            self.notes.append(f"{self.source}:{lineno}: unknown keyword {quote(keyword)} ignored")
            return
        if keyword in self.entries:
            first = self.entries[keyword][0]
            raise LutFormatError(
                f"{self.source}:{lineno}: {keyword} given twice (first on line {first})"
            )
        self.entries[keyword] = (lineno, rest[0] if rest else "")

    def size(self, keyword: str) -> int | None:
        """The value of a size keyword, checked against SIZE_LIMITS; None when absent."""
        if keyword not in self.entries:
            return None
        low, high = SIZE_LIMITS[keyword]
        text = self.entries[keyword][1]
        try:
            size = int(text)
        except ValueError:
            size = None
        if size is None or not low <= size <= high:
            raise self.error(
                keyword, f"{keyword} must be an integer in {low}..{high}, found {quote(text)}"
            )
        return size

    def numbers(self, keyword: str, count: int) -> np.ndarray | None:
        """The ``count`` finite numbers after ``keyword``; None when absent."""
        if keyword not in self.entries:
            return None
        tokens = self.entries[keyword][1].split()
        if len(tokens) != count:
            raise self.error(keyword, f"{keyword} expects {count} numbers, found {len(tokens)}")
        values = []
        for token in tokens:
            try:
                values.append(float(token))
            except ValueError:
                raise self.error(keyword, f"{keyword}: not a number: {quote(token)}") from None
        if not np.isfinite(values).all():
            raise self.error(keyword, f"{keyword}: numbers must be finite")
        return np.array(values)

    def title(self) -> str | None:
        """The TITLE text without its quotes; None when absent."""
        if "TITLE" not in self.entries:
            return None
        text = self.entries["TITLE"][1]
        if len(text) >= 2 and text[0] == text[-1] == '"':
            return text[1:-1]
        return text  # unquoted: lenient, the rest of the line

    def domains(self, size1: int | None, size3: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Input domains (low, high) of the tables present: the 1D one first."""
        domain_min = self.numbers("DOMAIN_MIN", 3)
        domain_max = self.numbers("DOMAIN_MAX", 3)
        adobe = "DOMAIN_MAX" if domain_max is not None else "DOMAIN_MIN"
        tables = [(size1, "LUT_1D"), (size3, "LUT_3D")]
        if size1 is not None and size3 is not None and adobe in self.entries:
            raise self.error(
                adobe,
                f"{adobe} is ambiguous with both a 1D and a 3D table; "
                "use LUT_1D_INPUT_RANGE / LUT_3D_INPUT_RANGE",
            )
        domains = []
        for size, prefix in tables:
            keyword = f"{prefix}_INPUT_RANGE"
            input_range = self.numbers(keyword, 2)
            if size is None:
                if input_range is not None:
                    other = "LUT_3D" if prefix == "LUT_1D" else "LUT_1D"
                    present = (size3 if prefix == "LUT_1D" else size1) is not None
                    hint = f"; did you mean {other}_INPUT_RANGE?" if present else ""
                    raise self.error(keyword, f"{keyword} without {prefix}_SIZE{hint}")
                continue
            if input_range is not None:
                if adobe in self.entries:
                    raise self.error(keyword, f"{keyword} conflicts with {adobe}")
                if not input_range[0] < input_range[1]:
                    raise self.error(keyword, f"{keyword} needs min < max, found {input_range}")
                domains.append((np.full(3, input_range[0]), np.full(3, input_range[1])))
                continue
            low = np.zeros(3) if domain_min is None else domain_min
            high = np.ones(3) if domain_max is None else domain_max
            if not (low < high).all():
                raise self.error(
                    adobe, f"DOMAIN_MIN {low} must be below DOMAIN_MAX {high} on every channel"
                )
            domains.append((low, high))
        return domains


def _row_problem(tokens: list[str]) -> str:
    """Why a table line is not 3 finite numbers; '' when it is."""
    if tokens[0] in _KEYWORDS:
        return f"keyword {tokens[0]} after the table data started"
    for token in tokens:
        try:
            value = float(token)
        except ValueError:
            return f"not a number: {quote(token)}"
        with np.errstate(over="ignore"):
            finite = np.isfinite(np.float32(value))
        if not finite:
            return f"not a finite float32 number: {quote(token)}"
    return "" if len(tokens) == 3 else f"expected 3 numbers, found {len(tokens)}"


# Writing ----------------------------------------------------------------------------------------


def _input_range(keyword: str, lut: Lut1D | Lut3D) -> str:
    """The Resolve ``LUT_xD_INPUT_RANGE lo hi`` line; ValueError if channels differ."""
    if np.ptp(lut.domain_min) or np.ptp(lut.domain_max):
        raise ValueError(f"{keyword} needs the same domain on all channels (Resolve dialect)")
    return f"{keyword} {exact(lut.domain_min[0])} {exact(lut.domain_max[0])}"


def cube_tables(lut: Lut) -> list[tuple[str, Lut1D | Lut3D]]:
    """The tables a .cube file holds for ``lut``, with their size keywords: one table, or a
    shaper and a 3D table; any other sequence is baked into one 3D table of the size of its
    largest (or 33³)."""
    luts = tables(lut)
    kinds = [type(part) for part in luts]
    if kinds in ([Lut1D], [Lut3D], [Lut1D, Lut3D]):
        return [
            ("LUT_1D_SIZE" if isinstance(part, Lut1D) else "LUT_3D_SIZE", part) for part in luts
        ]
    return [("LUT_3D_SIZE", bake(lut, bake_size(lut)))]


def format_cube(lut_file: LutFile, decimals: int = 6) -> str:
    """The text of a .cube file for ``lut_file``: data with ``decimals`` fixed decimals, red
    fastest.

    One table is written Adobe-style (DOMAIN_MIN/DOMAIN_MAX when not 0..1); a shaper with a 3D
    table Resolve-style (LUT_1D_INPUT_RANGE / LUT_3D_INPUT_RANGE, and the title as the first
    comment, since OpenColorIO's Resolve reader rejects TITLE). ValueError for a LUT that no
    .cube file can hold (sizes out of range, non-finite values).
    """
    tables = cube_tables(lut_file.lut)
    lines = []
    comments = [part for comment in lut_file.comments for part in comment.splitlines() or [""]]
    if lut_file.title is not None:
        title = " ".join(lut_file.title.splitlines())
        if len(tables) == 2:
            comments.insert(0, title)  # OpenColorIO's Resolve reader rejects TITLE lines
        else:
            lines.append(f'TITLE "{title}"')
    lines += [f"# {comment}".rstrip() for comment in comments]
    for keyword, lut in tables:
        low, high = SIZE_LIMITS[keyword]
        if not low <= lut.size <= high:
            raise ValueError(f"{keyword} must be in {low}..{high}, got {lut.size}")
        lines.append(f"{keyword} {lut.size}")
    if len(tables) == 2:
        lines += [
            _input_range(keyword.replace("SIZE", "INPUT_RANGE"), lut)
            for keyword, lut in tables
            if not lut.has_default_domain
        ]
    elif not tables[0][1].has_default_domain:
        lut = tables[0][1]
        lines.append("DOMAIN_MIN " + " ".join(exact(v) for v in lut.domain_min))
        lines.append("DOMAIN_MAX " + " ".join(exact(v) for v in lut.domain_max))

    rows = [
        lut.table if keyword == "LUT_1D_SIZE" else lut.table.transpose(1, 2, 3, 0).reshape(-1, 3)
        for keyword, lut in tables
    ]
    row_format = f"%.{decimals}f %.{decimals}f %.{decimals}f\n"
    return "\n".join(lines) + "\n" + format_rows(np.concatenate(rows), row_format, decimals)


def write_cube(lut_file: LutFile, path: str | os.PathLike, decimals: int = 6) -> None:
    """Write ``lut_file`` to ``path`` atomically (``format_cube``)."""
    write_file(path, format_cube(lut_file, decimals).encode("utf-8"))


def _recognises(head: bytes) -> bool:
    """A .cube file: a size keyword near the start (after a title and comments)."""
    return b"LUT_3D_SIZE" in head or b"LUT_1D_SIZE" in head


FORMAT = LutFormat(
    name="cube",
    description="Adobe/Resolve .cube (1D, 3D, shaper + 3D)",
    extensions=(".cube",),
    recognises=_recognises,
    read=read_cube,
    write=write_cube,
)
