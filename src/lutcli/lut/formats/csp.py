"""Rising Sun Research cineSpace .csp files: a per-channel prelut, then a 1D or a 3D table.

    CSPLUTV100
    3D
    BEGIN METADATA
    title
    END METADATA
    2               <- red prelut: its point count,
    0.0 1.0         <-   inputs (increasing, any spacing, any range),
    0.0 1.0         <-   outputs (the table's 0..1 input)
    ... green and blue likewise ...
    33 33 33        <- the table: 3D "N N N" then N³ lines red fastest, or 1D "N" then N lines
    0.0 0.0 0.0
    ...

A prelut of 3 or more points is the cineSpace library's curve through them (a cubic between
each two points, its slopes from the neighbours; quadratic in the end segments), as OpenColorIO
computes it; 2 points are a straight line. (colour-science joins the points by straight lines
instead: on a sparse curved prelut the two readings differ visibly.) lutcli resamples the curve
on an even grid over its inputs into a ``Lut1D`` of up to 65536 points (OpenColorIO's count):
enough for straight lines between them to stay within ``PRELUT_TOLERANCE`` of the curve, or as
close as 65536 points get; points on one straight line need 2, exactly. A prelut whose outputs
equal its inputs is no prelut (as OpenColorIO reads it); one that maps the input range straight
onto 0..1 becomes the table's input domain. The first METADATA line is the title, the others
comments (as colour-science reads them).
"""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np

from lutcli.lut.formats.common import LutFormat, write_file
from lutcli.lut.formats.text import TextLines, format_rows, quote
from lutcli.lut.luts import Lut, Lut1D, Lut3D, LutFile, LutSequence, bake, bake_size, tables

# Entries of a 1D table and points per axis of a 3D one (OpenColorIO reads 1D tables to
# 300000, 3D to 129; colour-science writes 3D to 256).
LENGTHS = range(2, 300_001)
SIZES = range(2, 257)
# Points of a prelut written (colour-science's limit) and most points of one read, resampled.
PRELUT_POINTS = range(2, 65_537)
# The largest difference between a resampled prelut and its curve, where 65536 points allow.
PRELUT_TOLERANCE = 1e-6
# Relative difference within which a prelut's outputs equal its inputs (OpenColorIO's).
IDENTITY_TOLERANCE = 1e-6
_CHANNELS = ("red", "green", "blue")


# Reading ----------------------------------------------------------------------------------------


def read_csp(path: str | os.PathLike) -> LutFile:
    """Read a .csp file; LutFormatError (one line, naming the file and line) if unusable."""
    lines = TextLines(path, "a .csp file")
    lineno, line = lines.expect("'CSPLUTV100'")
    if not line.upper().startswith("CSPLUTV100"):
        raise lines.error(lineno, f"expected 'CSPLUTV100', found {quote(line)}")
    lineno, line = lines.expect("'1D' or '3D'")
    kind = line.upper()
    if kind not in ("1D", "3D"):
        raise lines.error(lineno, f"expected '1D' or '3D', found {quote(line)}")
    metadata: list[str] = []
    lineno, line = lines.expect("the red prelut's point count")
    if line.upper().startswith("BEGIN METADATA"):
        begin = lineno
        for _, line in lines:
            if line.upper().startswith("END METADATA"):
                break
            metadata.append(line)
        else:
            raise lines.error(begin, "BEGIN METADATA without END METADATA")
        lineno, line = lines.expect("the red prelut's point count")
    curves = []
    for channel in _CHANNELS:
        if channel != "red":
            lineno, line = lines.expect(f"the {channel} prelut's point count")
        curves.append(_read_curve(lines, lineno, line, channel))
    table = _read_table(lines, kind)
    rest = sum(1 for _ in lines)
    notes = [f"{lines.source}: {rest} line(s) after the table passed over"] if rest else []
    title = metadata[0] if metadata else None
    return LutFile(_with_prelut(curves, table), title, metadata[1:], "csp", notes)


def _read_curve(
    lines: TextLines, lineno: int, line: str, channel: str
) -> tuple[np.ndarray, np.ndarray] | None:
    """One channel's prelut (inputs, outputs) from its count line ``line`` and the two lines
    after it; None for a count of 0 (no prelut, as OpenColorIO reads it)."""
    if not line.isdigit():
        raise lines.error(
            lineno, f"expected the {channel} prelut's point count, found {quote(line)}"
        )
    count = int(line)
    if count == 0:
        return None
    if count == 1:
        raise lines.error(lineno, f"the {channel} prelut needs 2 or more points (0 for none)")
    points = []
    for what in ("inputs", "outputs"):
        lineno, line = lines.expect(f"the {channel} prelut's {what}")
        points.append(lines.numbers(lineno, line.split(), count, f"the {channel} prelut's {what}"))
        if what == "inputs" and not (np.diff(points[0].astype(np.float32)) > 0).all():
            raise lines.error(lineno, f"the {channel} prelut's inputs must increase")
    return points[0], points[1]


def _read_table(lines: TextLines, kind: str) -> Lut1D | Lut3D:
    """The 1D or 3D table after the prelut: its size line, then its rows."""
    if kind == "1D":
        lineno, line = lines.expect("the 1D table's length")
        if not line.isdigit() or int(line) not in LENGTHS:
            raise lines.error(
                lineno,
                f"expected the 1D table's length ({LENGTHS.start}..{LENGTHS.stop - 1}), "
                f"found {quote(line)}",
            )
        count = int(line)
    else:
        lineno, line = lines.expect("the cube size 'N N N'")
        tokens = line.split()
        if len(tokens) != 3 or not all(token.isdigit() for token in tokens):
            raise lines.error(lineno, f"expected the cube size 'N N N', found {quote(line)}")
        if len(set(map(int, tokens))) != 1:
            raise lines.error(lineno, f"cube sizes differ ({line}): lutcli reads cubes N N N")
        size = int(tokens[0])
        if size not in SIZES:
            raise lines.error(lineno, f"cube size must be in {SIZES.start}..{SIZES.stop - 1}")
        count = size**3
    rows = np.empty((count, 3), np.float32)
    filled = 0
    for _, values in lines.rows(count, 3, "red, green and blue"):
        rows[filled : filled + len(values)] = values
        filled += len(values)
    if kind == "1D":
        return Lut1D(rows)
    return Lut3D(rows.T.reshape(3, size, size, size))  # red fastest: [c, b, g, r]


def _with_prelut(curves: list[tuple[np.ndarray, np.ndarray] | None], table: Lut1D | Lut3D) -> Lut:
    """``table`` after the preluts ``curves``: the table alone when they change nothing, with
    their inputs as its domain when they map them straight onto 0..1, else a sequence."""
    if all(curve is None or _is_identity(*curve) for curve in curves):
        return table
    unit = (np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    prelut = resample_prelut([unit if curve is None else curve for curve in curves])
    if prelut.size == 2 and (prelut.table == [[0.0] * 3, [1.0] * 3]).all():
        return dataclasses.replace(
            table, domain_min=prelut.domain_min, domain_max=prelut.domain_max
        )
    return LutSequence([prelut, table])


def _is_identity(inputs: np.ndarray, outputs: np.ndarray) -> bool:
    return bool((np.abs(outputs - inputs) <= IDENTITY_TOLERANCE * np.abs(inputs)).all())


def resample_prelut(curves: list[tuple[np.ndarray, np.ndarray]]) -> Lut1D:
    """The red, green and blue prelut curves (inputs, outputs) as one ``Lut1D`` over each
    curve's input range, with as many evenly spaced points as the most bent curve needs to stay
    within ``PRELUT_TOLERANCE`` (2 for straight lines, 65536 at most)."""
    splines = [_spline(*curve) for curve in curves]
    size = max(_points_needed(inputs, coefficients) for inputs, coefficients in splines)
    table = np.stack(
        [
            _evaluate(inputs, coefficients, np.linspace(inputs[0], inputs[-1], size))
            for inputs, coefficients in splines
        ],
        axis=1,
    )
    low = [inputs[0] for inputs, _ in splines]
    high = [inputs[-1] for inputs, _ in splines]
    return Lut1D(table, low, high)


def _spline(inputs: np.ndarray, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cineSpace curve through the points: (inputs, coefficients (n - 1, 4)) where segment i
    is ``a + b z + c z² + d z³`` with ``z = (x - inputs[i]) / (inputs[i + 1] - inputs[i])``.

    Its slope at an inner point is that of the chord between its neighbours; inner segments
    are cubics with the slopes at both ends, the end segments quadratics with the slope at their
    inner end; 2 points give a straight line."""
    f0, f1 = outputs[:-1], outputs[1:]
    if len(inputs) == 2:
        return inputs, np.array([[f0[0], f1[0] - f0[0], 0.0, 0.0]])
    width = np.diff(inputs)
    chord_slopes = (outputs[2:] - outputs[:-2]) / (inputs[2:] - inputs[:-2])
    start = np.zeros_like(f0)  # slopes at each segment's ends, in units of z
    end = np.zeros_like(f0)
    start[1:] = chord_slopes * width[1:]
    end[:-1] = chord_slopes * width[:-1]
    b = start.copy()
    c = -3 * f0 - 2 * start + 3 * f1 - end
    d = 2 * f0 + start - 2 * f1 + end
    b[0], c[0], d[0] = -2 * f0[0] + 2 * f1[0] - end[0], f0[0] - f1[0] + end[0], 0.0
    c[-1], d[-1] = f1[-1] - f0[-1] - start[-1], 0.0
    return inputs, np.stack([f0, b, c, d], axis=1)


def _points_needed(inputs: np.ndarray, coefficients: np.ndarray) -> int:
    """Evenly spaced points over the inputs that keep straight lines between them within
    ``PRELUT_TOLERANCE`` of the curve: the error is at most spacing² / 8 times the largest
    second derivative, which each segment has at one of its ends."""
    _, _, c, d = coefficients.T
    bend = np.maximum(np.abs(2 * c), np.abs(2 * c + 6 * d)) / np.diff(inputs) ** 2
    intervals = (inputs[-1] - inputs[0]) * math.sqrt(bend.max() / (8 * PRELUT_TOLERANCE))
    most = PRELUT_POINTS.stop - 1
    return most if intervals >= most else max(math.ceil(intervals), 1) + 1


def _evaluate(inputs: np.ndarray, coefficients: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The curve at ``x`` (within the inputs' range)."""
    segment = np.clip(np.searchsorted(inputs, x, side="right") - 1, 0, len(inputs) - 2)
    z = (x - inputs[segment]) / (inputs[segment + 1] - inputs[segment])
    a, b, c, d = coefficients[segment].T
    return a + z * (b + z * (c + z * d))


# Writing ----------------------------------------------------------------------------------------


def csp_tables(lut: Lut) -> tuple[Lut1D | None, Lut1D | Lut3D]:
    """The prelut (None: the table's domain alone) and the table a .csp file holds for
    ``lut``: a 1D or 3D table, alone or after a 1D curve; any other chain baked into one 3D
    table of the size of its largest (or 33³)."""
    parts = tables(lut)
    kinds = [type(part) for part in parts]
    if kinds in ([Lut1D], [Lut3D]):
        return None, parts[0]
    if kinds in ([Lut1D, Lut1D], [Lut1D, Lut3D]):
        return parts[0], parts[1]
    return None, bake(lut, bake_size(lut))


def format_csp(lut_file: LutFile, decimals: int = 6) -> str:
    """The text of a .csp file for ``lut_file`` (``csp_tables``): the title and comments in
    METADATA, a prelut per channel (2 points mapping the table's domain onto 0..1, or a 1D
    curve's points over its domain, their outputs mapped onto the table's domain), then the
    table, red fastest; outputs with ``decimals`` fixed decimals, prelut inputs exact. A curve's
    points are read back as the cineSpace curve through them, not straight lines: the two differ
    by about spacing² / 8 times the curve's bend (2e-5 for a 256-point log shaper).

    ValueError for sizes out of range, non-finite values, or a METADATA line that would end
    the block."""
    prelut, table = csp_tables(lut_file.lut)
    size_range, what = (
        (LENGTHS, "1D table length") if isinstance(table, Lut1D) else (SIZES, "cube size")
    )
    if table.size not in size_range:
        raise ValueError(f".csp {what} must be in {size_range.start}..{size_range.stop - 1}")
    texts = ([lut_file.title] if lut_file.title is not None else []) + lut_file.comments
    metadata = [part.strip() for text in texts for part in text.splitlines()]
    if any(part.upper().startswith("END METADATA") for part in metadata):
        raise ValueError("a title or comment line starting with 'END METADATA' would end METADATA")
    kind = "1D" if isinstance(table, Lut1D) else "3D"
    parts = [f"CSPLUTV100\n{kind}\n\nBEGIN METADATA\n"]
    parts += [f"{part}\n" for part in metadata if part]
    parts.append("END METADATA\n\n")
    parts.append(_format_prelut(prelut, table, decimals))
    if isinstance(table, Lut1D):
        parts.append(f"\n{table.size}\n")
        rows = table.table
    else:
        parts.append(f"\n{table.size} {table.size} {table.size}\n")
        rows = table.table.transpose(1, 2, 3, 0).reshape(-1, 3)  # [b, g, r, c]: red fastest
    parts.append(format_rows(rows, f"%.{decimals}f %.{decimals}f %.{decimals}f\n", decimals))
    return "".join(parts)


def _format_prelut(prelut: Lut1D | None, table: Lut1D | Lut3D, decimals: int) -> str:
    """The three prelut blocks: ``prelut``'s points (or the table's domain onto 0..1), their
    outputs mapped from the table's domain onto the 0..1 a .csp table spans."""
    if prelut is None:
        inputs = np.stack([table.domain_min, table.domain_max])
        outputs = np.array([[0.0] * 3, [1.0] * 3])
    else:
        if prelut.size not in PRELUT_POINTS:
            raise ValueError(
                f".csp prelut points must be in {PRELUT_POINTS.start}..{PRELUT_POINTS.stop - 1}"
            )
        inputs = np.linspace(prelut.domain_min, prelut.domain_max, prelut.size)
        outputs = (prelut.table - table.domain_min) / (table.domain_max - table.domain_min)
    blocks = []
    for channel in range(3):
        points = inputs[:, channel].tolist()
        blocks.append(f"{len(points)}\n" + " ".join(map(repr, points)) + "\n")
        row_format = " ".join([f"%.{decimals}f"] * len(points)) + "\n"
        blocks.append(format_rows(outputs[None, :, channel], row_format, decimals))
    return "".join(blocks)


def write_csp(lut_file: LutFile, path: str | os.PathLike, decimals: int = 6) -> None:
    """Write ``lut_file`` to ``path`` atomically (``format_csp``)."""
    write_file(path, format_csp(lut_file, decimals).encode("utf-8"))


def _recognises(head: bytes) -> bool:
    """A .csp file: a first line starting with 'CSPLUTV100'."""
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()[:10].upper() == b"CSPLUTV100"


FORMAT = LutFormat(
    name="csp",
    description="cineSpace .csp (prelut, then 1D or 3D)",
    extensions=(".csp",),
    recognises=_recognises,
    read=read_csp,
    write=write_csp,
)
