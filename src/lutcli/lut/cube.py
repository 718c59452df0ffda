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
from dataclasses import dataclass, field
from itertools import chain
from typing import BinaryIO

import numpy as np
import torch

from lutcli.errors import CubeFormatError, LutcliError, os_error_reason
from lutcli.fileutil import atomic_write
from lutcli.limits import environment_limit
from lutcli.lut.interpolate import apply_lut

# Inclusive size limits of the specification, per size keyword.
SIZE_LIMITS = {"LUT_1D_SIZE": (2, 65536), "LUT_3D_SIZE": (2, 256)}
# Resolve writes these video-range flags; lutcli works on full-range values and ignores them.
_IGNORED_KEYWORDS = ("LUT_IN_VIDEO_RANGE", "LUT_OUT_VIDEO_RANGE")
_KEYWORDS = frozenset(
    ("TITLE", "DOMAIN_MIN", "DOMAIN_MAX", "LUT_1D_INPUT_RANGE", "LUT_3D_INPUT_RANGE")
    + tuple(SIZE_LIMITS)
    + _IGNORED_KEYWORDS
)
# Rows formatted per string operation when writing: fast, with bounded memory for 256³ tables.
_FORMAT_CHUNK = 1 << 16
# The largest .cube file read, in MiB (LUTCLI_MAX_CUBE_MB raises it): a 256³ table, the most
# the specification allows, is 430 MiB of text at 6 decimals. Reading streams the text, so
# memory is the table's own (200 MB for 256³), whatever the file.
MAX_CUBE_MB = 1024
MAX_CUBE_MB_VARIABLE = "LUTCLI_MAX_CUBE_MB"
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


def _domain(domain_min: np.ndarray, domain_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of an input domain as (3,) float64 arrays; ValueError unless min < max."""
    low = np.array(np.broadcast_to(np.asarray(domain_min, dtype=np.float64), (3,)))
    high = np.array(np.broadcast_to(np.asarray(domain_max, dtype=np.float64), (3,)))
    if not (np.isfinite(low).all() and np.isfinite(high).all() and (low < high).all()):
        raise ValueError(f"domain_min must be below domain_max on every channel: {low}, {high}")
    return low, high


def _normalise(image: torch.Tensor, low: np.ndarray, high: np.ndarray) -> torch.Tensor:
    """Image values mapped from the domain low..high to 0..1 per channel (not clamped)."""
    if image.dim() != 4 or image.shape[1] != 3 or not image.is_floating_point():
        raise ValueError(
            f"image must be float (N, 3, H, W), got {image.dtype} {tuple(image.shape)}"
        )
    low_t = torch.tensor(low, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    span_t = torch.tensor(high - low, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image - low_t) / span_t


def _is_default_domain(lut: Lut1D | Lut3D) -> bool:
    """Whether the table covers exactly 0..1 on every channel (no domain lines needed)."""
    return bool((lut.domain_min == 0).all() and (lut.domain_max == 1).all())


@dataclass(eq=False)
class Lut1D:
    """A per-channel curve: row i of ``table`` (N, 3) float32 is the output RGB for the input
    ``domain_min + i / (N - 1) * (domain_max - domain_min)`` of each channel."""

    table: np.ndarray
    domain_min: np.ndarray = field(default_factory=lambda: np.zeros(3))
    domain_max: np.ndarray = field(default_factory=lambda: np.ones(3))

    def __post_init__(self) -> None:
        self.table = np.ascontiguousarray(self.table, dtype=np.float32)  # float32: not copied
        if self.table.ndim != 2 or self.table.shape[1] != 3 or self.table.shape[0] < 2:
            raise ValueError(f"a 1D LUT table must be (N >= 2, 3), got {self.table.shape}")
        self.domain_min, self.domain_max = _domain(self.domain_min, self.domain_max)

    @property
    def size(self) -> int:
        """Number of entries N."""
        return self.table.shape[0]

    def apply(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) float image -> same shape: each channel through its curve, linearly
        interpolated; inputs outside the domain are clamped to it."""
        size = self.size
        position = _normalise(image, self.domain_min, self.domain_max).clamp(0, 1) * (size - 1)
        lower = position.floor().clamp(0, size - 2)
        # Channel-major flat table: channel c's curve starts at c * size.
        curves = torch.from_numpy(self.table.T.copy()).to(image.device, image.dtype).reshape(-1)
        start = torch.arange(3, device=image.device).view(1, 3, 1, 1) * size
        index = lower.long() + start
        below, above = curves[index], curves[index + 1]
        return below + (position - lower) * (above - below)


@dataclass(eq=False)
class Lut3D:
    """A 3D table (3, D, D, D) float32 indexed ``[c, b, g, r]``; lattice index i stands for the
    input ``domain_min + i / (D - 1) * (domain_max - domain_min)`` on each axis."""

    table: np.ndarray
    domain_min: np.ndarray = field(default_factory=lambda: np.zeros(3))
    domain_max: np.ndarray = field(default_factory=lambda: np.ones(3))

    def __post_init__(self) -> None:
        self.table = np.ascontiguousarray(self.table, dtype=np.float32)  # float32: not copied
        shape = self.table.shape
        if len(shape) != 4 or shape[0] != 3 or not shape[1] == shape[2] == shape[3] >= 2:
            raise ValueError(f"a 3D LUT table must be (3, D, D, D) with D >= 2, got {shape}")
        self.domain_min, self.domain_max = _domain(self.domain_min, self.domain_max)

    @property
    def size(self) -> int:
        """Lattice points per axis D."""
        return self.table.shape[-1]

    @property
    def has_default_domain(self) -> bool:
        """Whether the table spans [0, 1] on every axis, as ``apply_lut`` takes it."""
        return _is_default_domain(self)

    def apply(self, image: torch.Tensor, interp: str = "trilinear") -> torch.Tensor:
        """(N, 3, H, W) float image -> same shape, through the table ("trilinear" or
        "tetrahedral"); inputs outside the domain are clamped to it (by ``apply_lut``)."""
        coords = _normalise(image, self.domain_min, self.domain_max)
        lut = torch.from_numpy(self.table).to(image.device, image.dtype)
        return apply_lut(coords, lut, interp)


@dataclass(eq=False)
class CubeFile:
    """The content of a .cube file. ``shaper`` is its 1D table: alone in a 1D file, or applied
    before ``lut3d`` in a Resolve file that has both. ``comments`` are without the '#'."""

    title: str | None = None
    shaper: Lut1D | None = None
    lut3d: Lut3D | None = None
    comments: list[str] = field(default_factory=list)

    def apply(self, image: torch.Tensor, interp: str = "trilinear") -> torch.Tensor:
        """(N, 3, H, W) float image -> same shape: the shaper (if any), then the 3D table."""
        if self.shaper is not None:
            image = self.shaper.apply(image)
        if self.lut3d is not None:
            image = self.lut3d.apply(image, interp)
        return image


# Reading ----------------------------------------------------------------------------------------


def read_cube(path: str | os.PathLike) -> CubeFile:
    """Read a .cube file; CubeFormatError (one line, naming the file) if it cannot be used.

    The text is parsed in blocks straight into the table, so memory is about the table's own
    size; a file over MAX_CUBE_MB (``$LUTCLI_MAX_CUBE_MB``) is refused before it is read.
    """
    source = str(path)
    limit = environment_limit(MAX_CUBE_MB_VARIABLE, MAX_CUBE_MB) << 20
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise CubeFormatError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise CubeFormatError(f"{source}: is a folder, not a .cube file") from None
    except OSError as error:
        raise CubeFormatError(f"{source}: cannot read: {os_error_reason(error)}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise CubeFormatError(_too_large(source, size, limit))
        return _parse(_blocks(handle, source, limit), source)


def parse_cube(text: str, source: str = "<string>") -> CubeFile:
    """Parse the text of a .cube file; ``source`` names it in CubeFormatError messages."""
    data = text.encode("utf-8", "surrogateescape")
    return _parse(_blocks(io.BytesIO(data), source, len(data)), source)


def _too_large(source: str, size: int, limit: int) -> str:
    return (
        f"{source}: over {size >> 20} MiB, more than the {limit >> 20} MiB a .cube file may "
        f"have (set {MAX_CUBE_MB_VARIABLE} to raise the limit)"
    )


def _blocks(handle: BinaryIO, source: str, limit: int) -> Iterator[bytes]:
    """The bytes of ``handle`` in blocks of whole lines, each line ending in '\n' ('\r\n' and
    '\r' become '\n'); CubeFormatError for binary data, an endless line or over ``limit``."""
    carry, total = b"", 0
    while True:
        try:
            chunk = handle.read(_BLOCK_BYTES)
        except OSError as error:
            raise CubeFormatError(f"{source}: cannot read: {os_error_reason(error)}") from None
        total += len(chunk)
        if total > limit:  # a file that grows, or a pipe
            raise CubeFormatError(_too_large(source, total, limit))
        if b"\0" in chunk:
            raise CubeFormatError(f"{source}: binary data, not a text .cube file")
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
            raise CubeFormatError(
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


def _parse(blocks: Iterable[bytes], source: str) -> CubeFile:
    """A CubeFile from the lines of ``blocks``: the keywords line by line, then the table data
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
            raise CubeFormatError(f"{source}: empty file: no keywords and no table data")
        raise CubeFormatError(f"{source}: no LUT_1D_SIZE or LUT_3D_SIZE keyword")
    domains = header.domains(size1, size3)

    table = _Table(size1, size3, source)
    for block in chain([data], blocks):
        table.add(_rows(block, lineno, source, comments), block, lineno)
        lineno += block.count(b"\n")
    table.check_complete()

    cube = CubeFile(title=header.title(), comments=list(comments))
    if size1 is not None:
        cube.shaper = Lut1D(table.shaper, *domains.pop(0))
    if size3 is not None:
        cube.lut3d = Lut3D(table.lut.reshape(3, size3, size3, size3), *domains.pop(0))
    return cube


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
            raise CubeFormatError(
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
            raise CubeFormatError(
                f"{self.source}: expected {self.expected} table lines for {self.what}, "
                f"found {self.filled} (file truncated?)"
            )


def _rows(block: bytes, first_lineno: int, source: str, comments: _Comments) -> np.ndarray:
    """The table rows (n, 3) float32 of the lines of ``block``; their comments go to
    ``comments``. Plain data is parsed in bulk; CubeFormatError names the first bad line."""
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
            raise CubeFormatError(f"{source}:{lineno}: {problem}")
    raise CubeFormatError(f"{source}:{first_lineno + 1}: unreadable table data")  # not reached


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


def _quote(token: str) -> str:
    """A token for an error message: repr (no control characters), cut to a sane length."""
    return repr(token if len(token) <= 40 else token[:40] + "...")


class _Header:
    """The keyword lines before the table data: keyword -> (line number, argument text)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.entries: dict[str, tuple[int, str]] = {}

    def error(self, keyword: str, message: str) -> CubeFormatError:
        """An error located on the line of ``keyword``."""
        return CubeFormatError(f"{self.source}:{self.entries[keyword][0]}: {message}")

    def add(self, lineno: int, line: str) -> None:
        """Record one keyword line; unknown and repeated keywords are errors."""
        keyword, *rest = line.split(None, 1)
        if keyword not in _KEYWORDS:
            raise CubeFormatError(f"{self.source}:{lineno}: unknown keyword {_quote(keyword)}")
        if keyword in self.entries:
            first = self.entries[keyword][0]
            raise CubeFormatError(
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
                keyword, f"{keyword} must be an integer in {low}..{high}, found {_quote(text)}"
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
                raise self.error(keyword, f"{keyword}: not a number: {_quote(token)}") from None
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
                    raise self.error(keyword, f"{keyword} without {prefix}_SIZE")
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
            return f"not a number: {_quote(token)}"
        with np.errstate(over="ignore"):
            finite = np.isfinite(np.float32(value))
        if not finite:
            return f"not a finite float32 number: {_quote(token)}"
    return "" if len(tokens) == 3 else f"expected 3 numbers, found {len(tokens)}"


# Writing ----------------------------------------------------------------------------------------


def _number(value: float) -> str:
    """A domain bound, exact and without exponent (readers such as ffmpeg use %f)."""
    return np.format_float_positional(np.float64(value), trim="0")


def _input_range(keyword: str, lut: Lut1D | Lut3D) -> str:
    """The Resolve ``LUT_xD_INPUT_RANGE lo hi`` line; ValueError if channels differ."""
    if np.ptp(lut.domain_min) or np.ptp(lut.domain_max):
        raise ValueError(f"{keyword} needs the same domain on all channels (Resolve dialect)")
    return f"{keyword} {_number(lut.domain_min[0])} {_number(lut.domain_max[0])}"


def format_cube(cube: CubeFile, decimals: int = 6) -> str:
    """The text of a .cube file for ``cube``: data with ``decimals`` fixed decimals, red fastest.

    One table is written Adobe-style (DOMAIN_MIN/DOMAIN_MAX when not 0..1); a shaper with a 3D
    table Resolve-style (LUT_1D_INPUT_RANGE / LUT_3D_INPUT_RANGE, and the title as the first
    comment, since OpenColorIO's Resolve reader rejects TITLE). ValueError for a CubeFile that
    no .cube file can hold (no table, sizes out of range, non-finite values).
    """
    tables = [
        (keyword, lut)
        for keyword, lut in (("LUT_1D_SIZE", cube.shaper), ("LUT_3D_SIZE", cube.lut3d))
        if lut is not None
    ]
    if not tables:
        raise ValueError("a .cube file needs a 1D or a 3D table; the CubeFile has neither")
    if not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a non-negative integer, got {decimals!r}")
    lines = []
    comments = [part for comment in cube.comments for part in comment.splitlines() or [""]]
    if cube.title is not None:
        title = " ".join(cube.title.splitlines())
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
            if not _is_default_domain(lut)
        ]
    elif not _is_default_domain(tables[0][1]):
        lut = tables[0][1]
        lines.append("DOMAIN_MIN " + " ".join(_number(v) for v in lut.domain_min))
        lines.append("DOMAIN_MAX " + " ".join(_number(v) for v in lut.domain_max))

    rows = [
        lut.table if keyword == "LUT_1D_SIZE" else lut.table.transpose(1, 2, 3, 0).reshape(-1, 3)
        for keyword, lut in tables
    ]
    values = np.concatenate(rows).astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("the LUT holds non-finite values (NaN or infinity)")
    values = np.round(values, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0: no "-0.000000"
    row_format = f"%.{decimals}f %.{decimals}f %.{decimals}f\n"
    parts = ["\n".join(lines) + "\n"]
    for start in range(0, len(values), _FORMAT_CHUNK):
        chunk = values[start : start + _FORMAT_CHUNK]
        parts.append((row_format * len(chunk)) % tuple(chunk.ravel().tolist()))
    return "".join(parts)


def write_cube(path: str | os.PathLike, cube: CubeFile, decimals: int = 6) -> None:
    """Write ``cube`` to ``path`` atomically, so a crash or a full disk never leaves a partial
    .cube; LutcliError when the file cannot be written."""
    text = format_cube(cube, decimals).encode("utf-8")
    try:
        with atomic_write(path) as handle:
            handle.write(text)
    except OSError as error:
        raise LutcliError(f"cannot write '{path}': {os_error_reason(error)}") from None
