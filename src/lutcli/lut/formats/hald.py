"""Hald CLUT images: a 3D LUT stored as a picture (RawTherapee's and darktable's film
simulations, G'MIC looks, ffmpeg's ``haldclut`` filter).

A Hald image of level L (2..16) is a square of L³ x L³ pixels holding a table of L² points per
axis: pixel i, counted row by row from the top left, is the output color of the lattice point
``r + g * L² + b * L⁴`` (red fastest, blue slowest), as ``haldclutsrc`` and the Hald reference
lay it out. Pixels are PNG or TIFF, 8 or 16 bits, RGB, RGBA (alpha ignored) or gray (the same
value on the three channels), through lutcli's own image I/O.
"""

from __future__ import annotations

import io
import math
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np

from lutcli.errors import ImageReadError, LutFormatError, os_error_reason
from lutcli.io.images import image_kind, read_pixels, write_pixels
from lutcli.io.metadata import open_with_pillow
from lutcli.lut.formats.common import LutFormat, check_finite, open_lut_file
from lutcli.lut.luts import Lut, Lut3D, LutFile, bake, tables

LEVELS = range(2, 17)
# The side of a Hald image of each level.
SIDES = {level**3: level for level in LEVELS}
# The level written for a LUT without a 3D table (curves only): 64 points, the usual Hald.
DEFAULT_LEVEL = 8
EXTENSIONS = (".png", ".tif", ".tiff")
_SIDES_TEXT = ", ".join(str(side) for side in list(SIDES)[:7]) + ", ..."


def _image_size(handle: BinaryIO) -> tuple[str, tuple[int, int] | None] | None:
    """("png" or "tiff", (width, height)) from the headers of the image ``handle`` starts at,
    without decoding pixels; the size is None when the headers cannot be read (a TIFF's tag
    directory beyond the bytes at hand); None for neither format."""
    start = handle.read(24)
    kind = image_kind(start)
    if kind == "png":
        if start[12:16] != b"IHDR":  # the first chunk of every PNG
            return "png", None
        return "png", struct.unpack(">II", start[16:24])
    if kind != "tiff":
        return None
    handle.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with open_with_pillow(handle, "tiff") as image:
                return "tiff", image.size
    except Exception:  # any failure of Pillow's header parser: no size to be had
        return "tiff", None


def recognises(head: bytes) -> bool:
    """A PNG or TIFF whose header says it is a square of a Hald image's side."""
    found = _image_size(io.BytesIO(head))
    return found is not None and found[1] is not None and _is_hald(*found[1])


def _is_hald(width: int, height: int) -> bool:
    return width == height and width in SIDES


# Reading ----------------------------------------------------------------------------------------


def read_hald(path: str | os.PathLike) -> LutFile:
    """Read a Hald image as a Lut3D of L² points per axis over 0..1; LutFormatError (one line,
    naming the file) when it is no PNG or TIFF, or not of a Hald image's size (checked from the
    headers, before any pixel is decoded)."""
    with open_lut_file(path, "a Hald image") as handle:
        try:
            found = _image_size(handle)
        except OSError as error:
            raise LutFormatError(f"{path}: cannot read: {os_error_reason(error)}") from None
    if found is None:
        raise LutFormatError(f"{path}: not a PNG or TIFF image, so not a Hald image")
    kind, size = found
    if size is None:
        raise LutFormatError(f"{path}: cannot read its {kind.upper()} header (corrupt file?)")
    if not _is_hald(*size):
        raise LutFormatError(
            f"'{path}' is {size[0]}x{size[1]}: not a Hald image (it must be square, its side "
            f"the cube of a level 2..16: {_SIDES_TEXT})"
        )
    pixels = _decode(path, size[0] * size[1])
    points = SIDES[size[0]] ** 2
    top = np.iinfo(pixels.dtype).max
    # Pixel order is the table's [b, g, r] order: only the channel axis moves to the front.
    table = pixels[..., :3].reshape(points, points, points, 3).transpose(3, 0, 1, 2)
    table = np.ascontiguousarray(table, dtype=np.float32)
    table /= top
    notes = [f"{path}: its alpha channel is ignored"] if pixels.shape[2] == 4 else []
    return LutFile(Lut3D(table), format="hald", notes=notes)


def _decode(path: str | os.PathLike, pixels: int) -> np.ndarray:
    """The stored pixels of the Hald image at ``path`` (``pixels`` of them): not turned by an
    orientation tag nor converted by a profile, whatever the file's name."""
    try:
        return read_pixels(path, max_pixels=pixels)
    except ImageReadError as error:
        reason = str(error).removeprefix(f"cannot read '{os.fspath(path)}': ")
        raise LutFormatError(f"{path}: cannot read the Hald image: {reason}") from None


# Writing ----------------------------------------------------------------------------------------


def hald_level(lut: Lut) -> int:
    """The level a Hald image of ``lut`` is written at: the smallest whose L² points per axis
    hold its (largest) 3D table, at least 2 and at most 16 (a 33³ table: level 6, 36³; 64³:
    level 8); DEFAULT_LEVEL for curves alone."""
    sizes = [part.size for part in tables(lut) if isinstance(part, Lut3D)]
    if not sizes:
        return DEFAULT_LEVEL
    return min(LEVELS[-1], max(LEVELS[0], math.isqrt(max(sizes) - 1) + 1))


def write_hald(
    lut_file: LutFile, path: str | os.PathLike, level: int | None = None, bits: int = 16
) -> None:
    """Write ``lut_file``'s LUT atomically as a Hald image of ``level`` (default:
    ``hald_level``), PNG or TIFF by the extension of ``path``, with ``bits`` (8 or 16) per
    channel: 16 by default, since 8 bits quantise the table to 1/255.

    The LUT is sampled on the level's lattice (a 3D table of another size, curves or a shaper
    are resampled). A Hald image holds outputs in 0..1 only: values beyond are clipped. It has
    no place for a title or comments. ValueError for a LUT whose input domain is not 0..1 (a
    Hald image's lattice spans 0..1), non-finite values, or an unknown level, depth or extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ValueError(f"a Hald image is written as PNG or TIFF ({', '.join(EXTENSIONS)})")
    write_pixels(path, hald_pixels(lut_file.lut, level, bits))


def hald_pixels(lut: Lut, level: int | None = None, bits: int = 16) -> np.ndarray:
    """The (L³, L³, 3) pixels of the Hald image of ``lut`` (``write_hald``'s level, depth and
    errors), made one blue plane of the table at a time."""
    if bits not in (8, 16):
        raise ValueError(f"a Hald image has 8 or 16 bits per channel, not {bits}")
    level = hald_level(lut) if level is None else level
    if not isinstance(level, int) or level not in LEVELS:
        raise ValueError(f"a Hald level must be an integer in 2..16, got {level!r}")
    low, high = lut.domain_min, lut.domain_max
    if not ((low == 0).all() and (high == 1).all()):
        raise ValueError(
            f"a Hald image holds a LUT over inputs 0..1; this one's input domain is "
            f"{low.tolist()}..{high.tolist()}"
        )
    points, side = level**2, level**3
    table = bake(lut, points).table
    check_finite(table)
    dtype = np.uint16 if bits == 16 else np.uint8
    top = np.iinfo(dtype).max
    pixels = np.empty((points, points * points, 3), dtype)
    for blue, plane in enumerate(table.transpose(1, 2, 3, 0)):  # one blue plane at a time
        pixels[blue] = np.rint(plane.clip(0, 1) * top).reshape(-1, 3)
    return pixels.reshape(side, side, 3)


FORMAT = LutFormat(
    name="hald",
    description="Hald CLUT image",
    extensions=EXTENSIONS,
    recognises=recognises,
    read=read_hald,
    write=write_hald,
)
