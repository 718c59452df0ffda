"""What the line-by-line text formats (.spi1d, .spi3d, .csp) share: a file's lines with their
numbers, rows of numbers read in bulk with one-line errors naming the file and the line, and
rows of numbers written in bulk."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from lutcli.errors import LutFormatError
from lutcli.lut.formats.common import check_finite, read_text
from lutcli.lut.luts import LutFile

# Lines converted to numbers at a time: fast, with small temporaries for any table.
CHUNK_LINES = 1 << 14


def quote(token: str) -> str:
    """A token for an error message: repr (no control characters), cut to a sane length."""
    return repr(token if len(token) <= 40 else token[:40] + "...")


class TextLines:
    """The non-blank lines of a text LUT file, stripped, with their line numbers. Lines that
    start with ``comment`` (when given) go to ``comments``, without the mark."""

    def __init__(self, path: str | os.PathLike, what: str, comment: str | None = None) -> None:
        self.source = str(path)
        self.text = read_text(path, what)
        self.comment = comment
        self.comments: list[str] = []
        self.lineno = 0  # the number of the line read last
        self._position = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self

    def __next__(self) -> tuple[int, str]:
        text = self.text
        while self._position < len(text):
            end = text.find("\n", self._position)
            end = len(text) if end < 0 else end
            line = text[self._position : end].strip()
            self._position = end + 1
            self.lineno += 1
            if self.comment is not None and line.startswith(self.comment):
                self.comments.append(line[len(self.comment) :].strip())
            elif line:
                return self.lineno, line
        raise StopIteration

    def expect(self, what: str) -> tuple[int, str]:
        """The next line; LutFormatError saying that ``what`` is missing at the end of the file."""
        line = next(self, None)
        if line is None:
            raise self.error(self.lineno, f"the file ends where {what} was expected")
        return line

    def error(self, lineno: int, message: str) -> LutFormatError:
        """A LutFormatError about line ``lineno``."""
        return LutFormatError(f"{self.source}:{lineno}: {message}")

    def numbers(self, lineno: int, tokens: list[str], count: int, what: str) -> np.ndarray:
        """``tokens`` of line ``lineno`` as ``count`` float64 numbers (finite in float32);
        LutFormatError naming ``what`` the line should hold otherwise."""
        if len(tokens) != count:
            raise self.error(lineno, f"expected {count} numbers ({what}), found {len(tokens)}")
        return self._values([lineno], [tokens])[0]

    def rows(
        self, count: int, width: int, what: str, end: str | None = None
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """The next ``count`` lines of ``width`` numbers each (``what`` they hold, for errors),
        in chunks: (their line numbers, float64 values (n, width)). LutFormatError at the first
        line that is not such a row, and when the file, or a line ``end``, comes first."""
        found = 0
        while found < count:
            linenos, rows = [], []
            chunk = min(CHUNK_LINES, count - found)
            for lineno, line in self:
                if line == end:
                    raise self.error(
                        lineno, f"'{end}' after {found + len(rows)} of the {count} table lines"
                    )
                tokens = line.split()
                if len(tokens) != width:
                    raise self.error(
                        lineno, f"expected {width} numbers ({what}), found {len(tokens)}"
                    )
                linenos.append(lineno)
                rows.append(tokens)
                if len(rows) == chunk:
                    break
            else:
                found += len(rows)
                raise self.error(
                    self.lineno, f"the file ends after {found} of the {count} table lines"
                )
            found += len(rows)
            yield linenos, self._values(linenos, rows)

    def _values(self, linenos: list[int], rows: list[list[str]]) -> np.ndarray:
        """Token rows of equal length as float64; LutFormatError at the first bad token."""
        try:
            values = np.array(rows, dtype=np.float64)
        except ValueError:
            values = None
        with np.errstate(over="ignore"):  # too large for float32: inf, found below
            if values is not None and np.isfinite(values.astype(np.float32)).all():
                return values
        for lineno, tokens in zip(linenos, rows, strict=True):
            for token in tokens:
                try:
                    value = float(token)
                except ValueError:
                    raise self.error(lineno, f"not a number: {quote(token)}") from None
                with np.errstate(over="ignore"):
                    if not np.isfinite(np.float32(value)):
                        raise self.error(lineno, f"not a finite float32 number: {quote(token)}")
        raise self.error(linenos[0], "unreadable numbers")  # not reached


def format_rows(values: np.ndarray, row_format: str, decimals: int) -> str:
    """Rows of ``values`` (n, k) as text, ``row_format`` per row (e.g. "%.6f %.6f %.6f\\n"),
    rounded to ``decimals`` first (so no "-0.000000"); ValueError for non-finite values."""
    if not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a non-negative integer, got {decimals!r}")
    values = np.asarray(values, dtype=np.float64)
    check_finite(values)
    parts = []
    for start in range(0, len(values), CHUNK_LINES):
        chunk = np.round(values[start : start + CHUNK_LINES], decimals) + 0.0  # -0.0 -> 0.0
        parts.append((row_format * len(chunk)) % tuple(chunk.ravel().tolist()))
    return "".join(parts)


def comment_lines(lut_file: LutFile) -> str:
    """The title and comments of ``lut_file`` as '#' lines, for formats without a title field
    (.spi1d, .spi3d): after the table, where colour-science writes them and OpenColorIO, done
    reading, passes over them."""
    texts = ([lut_file.title] if lut_file.title is not None else []) + lut_file.comments
    lines = [f"# {part}".rstrip() for text in texts for part in text.splitlines() or [""]]
    return "".join(line + "\n" for line in lines)


def exact(value: float) -> str:
    """A number exactly as float64 holds it, without exponent (a domain bound, an input)."""
    return np.format_float_positional(np.float64(value), trim="0")
