"""Reading and writing photos: JPEG, PNG, TIFF, WebP and BMP at 8 or 16 bits per channel.

OpenCV decodes the pixels (fast, keeps 16 bits and alpha; the file's bytes go through memory, so
non-ASCII paths work). The EXIF block (with the orientation a camera records) and the ICC
profile, which OpenCV drops, are read from the headers and written back into the encoded file
by ``lutcli.io.metadata``. OpenCV encodes JPEG (a third faster than Pillow at the same
settings), PNG and LZW TIFF at 8 and 16 bits (Pillow has no 16-bit RGB and is much slower);
Pillow encodes WebP and BMP.

JPEG and BMP have no alpha channel: alpha is dropped there. JPEG, WebP and BMP have no 16-bit
form: 16-bit pixels are rounded to 8 bits for them.

The size is read from the headers before any pixel is decoded, and a photo over the pixel limit
(``LUTCLI_MAX_PIXELS``, by default Pillow's decompression-bomb threshold) is refused: a small
file can claim a huge picture. The pixels always come out RGB, with a profile that describes
RGB (CMYK and gray are converted to sRGB through their profiles). What reading changed or left
out is listed in ``Picture.notes`` for the caller to tell the user.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import simplejpeg
from PIL import Image

from lutcli.errors import ImageReadError, LutcliError, os_error_reason
from lutcli.fileutil import DestinationExistsError, atomic_write
from lutcli.io.metadata import (
    Header,
    cmyk_to_srgb,
    color_space,
    gray_to_srgb,
    open_with_pillow,
    pillow_metadata,
    read_header,
    rgb_profile,
    with_metadata,
)
from lutcli.io.pixels import CHANNEL_ORDERS, MAX_VALUE
from lutcli.limits import environment_limit

MAX_PIXELS_VARIABLE = "LUTCLI_MAX_PIXELS"
# Pillow's decompression-bomb error threshold: above every single-shot camera (150 MP medium
# format), and 1.1 GB decoded at 8 bits (2.1 GB at 16), which a laptop can hold.
DEFAULT_MAX_PIXELS = 2 * 89_478_485
# Bytes a file may have per pixel of the limit (16-bit RGBA stored raw), plus its metadata.
_MAX_BYTES_PER_PIXEL = 8
_MAX_METADATA_BYTES = 64 << 20

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}
)

_SIGNATURES = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"II+\x00", "tiff"),  # BigTIFF
    (b"MM\x00+", "tiff"),
    (b"BM", "bmp"),
)
# Flips (rows, columns) that, after a transpose for orientations 5-8, make a photo upright.
_ORIENTATION_FLIPS = {1: (False, False), 2: (False, True), 3: (True, True), 4: (True, False)}
# OpenCV's channel count -> conversion of the color part to RGB or BGR (alpha is taken
# separately); None: OpenCV's own order already.
_CONVERSIONS = {
    "RGB": {
        1: cv2.COLOR_GRAY2RGB,
        2: cv2.COLOR_GRAY2RGB,  # gray + alpha
        3: cv2.COLOR_BGR2RGB,
        4: cv2.COLOR_BGRA2RGB,
    },
    "BGR": {1: cv2.COLOR_GRAY2BGR, 2: cv2.COLOR_GRAY2BGR, 3: None, 4: cv2.COLOR_BGRA2BGR},
}


@dataclass
class Picture:
    """A decoded photo, upright, with the metadata to write back beside new pixels."""

    pixels: np.ndarray
    """(H, W, 3) uint8 or uint16, EXIF orientation already applied, in ``channel_order``."""
    alpha: np.ndarray | None
    """(H, W), same dtype as ``pixels``; passed through untouched."""
    exif: bytes | None
    """The EXIF block as Pillow's ``Exif.tobytes()`` gives it (starting ``Exif\\0\\0``), with
    Orientation reset to 1 since ``pixels`` are upright now."""
    icc_profile: bytes | None
    was_gray: bool
    """The file stored gray; ``pixels`` then hold the gray value in all 3 channels."""
    channel_order: str = "RGB"
    """"RGB", or "BGR" (OpenCV's order: reading and writing skip a conversion each)."""
    full_size: tuple[int, int] | None = None
    """(height, width) of the photo in its file, upright, where ``pixels`` were decoded
    smaller (a JPEG read for a preview); None where they are that size."""
    notes: list[str] = field(default_factory=list)
    """What reading left out or changed that the user should know (one short line each)."""

    @property
    def bit_depth(self) -> int:
        """Bits per channel: 8 or 16."""
        return self.pixels.dtype.itemsize * 8


# Reading ----------------------------------------------------------------------------------------


def read_image(
    path: str | os.PathLike[str],
    channel_order: str = "RGB",
    max_pixels: int | None = None,
    shrink_to: float = 1.0,
    into: np.ndarray | None = None,
) -> Picture:
    """Read a photo upright, with its alpha, EXIF and ICC profile; the pixels in
    ``channel_order`` ("RGB" or "BGR").

    ``shrink_to`` says the caller will shrink the photo to that fraction of each side: a JPEG
    is then decoded at 1/2, 1/4 or 1/8 of each side (the smallest still at least that large)
    in its decoder, which skips most of the work of decoding it whole; ``full_size`` gives its
    size in the file. Other formats, and CMYK JPEGs, are decoded whole.

    ``into``: an array to decode a color JPEG into where it has the photo's shape, as stored
    ((H, W, 3) uint8, C-contiguous), and the order is BGR: a caller reading photo after photo
    saves allocating and zeroing the pixels each time. The pixels returned may then be ``into``'s
    memory.

    Raises ImageReadError (one line naming the file) for a missing, empty, truncated, corrupt or
    unsupported file, including bit depths other than 8 and 16, and for a picture of more than
    ``max_pixels`` pixels (default: ``max_pixels_setting()``), checked before decoding.
    """
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")
    if Path(path).suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise _cannot_read(path, f"unsupported file type (use {_extension_list()})")
    limit = max_pixels_setting() if max_pixels is None else max_pixels
    kind, header, data = _read_file(path, limit)
    if _is_truncated(data, kind):
        raise _cannot_read(path)
    if kind == "tiff":  # OpenCV's and Pillow's TIFF decoders apply the Orientation tag
        header = header._replace(orientation=1)
    if header.mode == "CMYK":
        return _read_cmyk(path, data, kind, header, channel_order)
    reduction = _jpeg_reduction(shrink_to) if kind == "jpeg" else 1
    array = None
    if kind == "jpeg" and header.mode == "RGB" and reduction == 1:
        width, height = header.size
        fits = (
            into is not None
            and channel_order == "BGR"
            and into.shape == (height, width, 3)
            and into.dtype == np.uint8
            and into.flags.c_contiguous
        )
        array = _decode_color_jpeg(data, into if fits else None)
    if array is None:
        array = _decode(path, data, reduction)
    array = _orient(array, header.orientation)
    if (
        kind == "tiff"
        and header.straight_alpha
        and array.dtype == np.uint8
        and array.shape[2:] == (4,)
    ):
        # libtiff's RGBA reader, which OpenCV uses for 8-bit TIFF, premultiplies this alpha.
        array = _decode_with_pillow(data, kind, header.orientation, "RGBA")
    array = array.reshape(array.shape[0], array.shape[1], -1)
    channels = array.shape[2]
    color = np.ascontiguousarray(array[:, :, :1] if channels == 2 else array)
    notes = list(header.notes)
    icc_profile = header.icc_profile
    gray = channels <= 2 or Image.getmodebase(header.mode) == "L"
    if gray and color_space(icc_profile) == "GRAY":  # the channels of gray are equal
        pixels, icc_profile = gray_to_srgb(color[:, :, 0], icc_profile, notes)
        if channel_order == "BGR":
            pixels = pixels[:, :, ::-1]
    else:
        conversion = _CONVERSIONS[channel_order][channels]
        pixels = color if conversion is None else cv2.cvtColor(color, conversion)
    width, height = header.size
    upright = (width, height) if header.orientation > 4 else (height, width)
    return Picture(
        pixels=np.ascontiguousarray(pixels),
        alpha=np.ascontiguousarray(array[:, :, -1]) if channels in (2, 4) else None,
        exif=header.exif,
        icc_profile=rgb_profile(icc_profile, notes),
        was_gray=gray,
        channel_order=channel_order,
        full_size=upright if reduction > 1 else None,
        notes=notes,
    )


# OpenCV's flags that decode a JPEG at 1/2, 1/4 or 1/8 of each side, in color, leaving the EXIF
# orientation to _orient (as for every other read).
_REDUCED_JPEG = {
    2: cv2.IMREAD_REDUCED_COLOR_2 | cv2.IMREAD_IGNORE_ORIENTATION,
    4: cv2.IMREAD_REDUCED_COLOR_4 | cv2.IMREAD_IGNORE_ORIENTATION,
    8: cv2.IMREAD_REDUCED_COLOR_8 | cv2.IMREAD_IGNORE_ORIENTATION,
}


def _jpeg_reduction(shrink_to: float) -> int:
    """The largest of 1, 2, 4 and 8 whose reciprocal is still at least ``shrink_to``."""
    return max((r for r in (1, *_REDUCED_JPEG) if r * shrink_to <= 1), default=1)


def _decode_color_jpeg(data: bytes, into: np.ndarray | None = None) -> np.ndarray | None:
    """A color JPEG's pixels (BGR; in ``into`` where given), decoded by libjpeg-turbo through
    simplejpeg: the same pixels as OpenCV's decoder, in two thirds of its time. None where
    simplejpeg declines (damaged data, a JPEG it does not read): OpenCV decodes those, and the
    JPEGs decoded smaller."""
    try:
        return simplejpeg.decode_jpeg(data, colorspace="BGR", buffer=into)
    except ValueError:
        return None


def _decode(path: str | os.PathLike[str], data: bytes, reduction: int = 1) -> np.ndarray:
    """The pixels OpenCV decodes from ``data`` as stored (BGR order, channels as in the file),
    a JPEG at 1/``reduction`` of each side; ImageReadError naming ``path`` for data it cannot
    decode or samples of other depths."""
    flags = _REDUCED_JPEG[reduction] if reduction > 1 else cv2.IMREAD_UNCHANGED
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        array = None
    if array is None:
        raise _cannot_read(path)
    if array.dtype not in MAX_VALUE:
        raise _cannot_read(path, f"{array.dtype} samples are not supported (8 and 16-bit only)")
    return array


def read_pixels(path: str | os.PathLike[str], max_pixels: int | None = None) -> np.ndarray:
    """The pixels of an image file that is data, not a photo (a Hald CLUT): as stored, neither
    turned upright nor colour-managed, the format found by content whatever the file's name.
    (H, W, C) RGB or RGBA uint8 or uint16, gray given as RGB. ImageReadError as ``read_image``.
    """
    limit = max_pixels_setting() if max_pixels is None else max_pixels
    kind, _, data = _read_file(path, limit)
    if _is_truncated(data, kind):
        raise _cannot_read(path)
    array = _decode(path, data)
    array = array.reshape(array.shape[0], array.shape[1], -1)
    if array.shape[2] <= 2:  # gray, or gray and alpha
        return np.concatenate([np.repeat(array[:, :, :1], 3, axis=2), array[:, :, 1:]], axis=2)
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB if array.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)


def max_pixels_setting() -> int:
    """The most pixels a photo may have: ``$LUTCLI_MAX_PIXELS``, else DEFAULT_MAX_PIXELS."""
    return environment_limit(MAX_PIXELS_VARIABLE, DEFAULT_MAX_PIXELS)


def over_pixel_limit(width: int, height: int, max_pixels: int) -> str | None:
    """Why a picture of ``width`` x ``height`` is refused under ``max_pixels``, or None."""
    if width * height <= max_pixels:
        return None
    return (
        f"{width}x{height} is {_megapixels(width * height)}, over the limit of "
        f"{_megapixels(max_pixels)} per image (raise it with --max-pixels or "
        f"{MAX_PIXELS_VARIABLE})"
    )


def silence_opencv_log() -> None:
    """Stop OpenCV's own log lines on stderr (a line about a file it cannot decode, beside the
    one lutcli prints). Process-wide, so for the command line: the library leaves it alone."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"


def _cannot_read(
    path: str | os.PathLike[str], reason: str = "not a supported image or the file is corrupt"
) -> ImageReadError:
    return ImageReadError(f"cannot read '{os.fspath(path)}': {reason}")


def _extension_list() -> str:
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


def _read_file(path: str | os.PathLike[str], max_pixels: int) -> tuple[str, Header, bytes]:
    """The file's format, headers and bytes. Its headers are read first, from the file, so that
    a file over the pixel limit, or larger than a photo within it can be, is never read whole.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if not size:
                raise _cannot_read(path, "the file is empty")
            if size > max_pixels * _MAX_BYTES_PER_PIXEL + _MAX_METADATA_BYTES:
                reason = (
                    f"its {size / 1e6:.1f} MB are more than a photo within the pixel limit takes"
                )
                raise _cannot_read(path, reason)
            kind = image_kind(handle.read(16))
            if kind is None:
                raise _cannot_read(path)
            handle.seek(0)
            header = read_header(handle, kind)
            if header is None:
                raise _cannot_read(path)
            reason = over_pixel_limit(*header.size, max_pixels)
            if reason is not None:
                raise _cannot_read(path, reason)
            handle.seek(0)
            # read(size): after the header parsers' small reads, a bare read() copies the
            # file twice (several ms for a 12 MP JPEG)
            return kind, header, handle.read(size)
    except FileNotFoundError:
        raise _cannot_read(path, "no such file") from None
    except IsADirectoryError:
        raise _cannot_read(path, "is a folder, not an image") from None
    except OSError as error:
        raise _cannot_read(path, os_error_reason(error)) from None


def image_kind(data: bytes) -> str | None:
    """The image format from the file's first bytes, whatever its extension says."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), None)


def _is_truncated(data: bytes, kind: str) -> bool:
    """A JPEG or PNG that stops early (OpenCV may decode half a JPEG, or print libpng errors)."""
    if kind == "jpeg":
        return not _jpeg_is_complete(data)
    if kind == "png":
        return not _png_is_complete(data)
    return False  # OpenCV refuses truncated TIFF, WebP and BMP data by itself


def _jpeg_is_complete(data: bytes) -> bool:
    """Whether an end-of-image marker follows the first scan.

    The header segments are stepped over by their lengths (an EXIF thumbnail ends with its own
    marker); the compressed data after a scan header never contains the bytes FF D9, so the
    search runs from the end, where a complete file has them (a forward one read every byte).
    """
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan
            return data.rfind(b"\xff\xd9", position) != -1
        if marker == 0xFF:  # fill byte before a marker
            position += 1
        else:
            position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return False


def _png_is_complete(data: bytes) -> bool:
    """Whether the chunks, stepped over by their lengths, reach the IEND chunk."""
    position = 8
    while position + 12 <= len(data):
        if data[position + 4 : position + 8] == b"IEND":
            return True
        position += 12 + int.from_bytes(data[position : position + 4], "big")
    return False


def _decode_with_pillow(data: bytes, kind: str, orientation: int, mode: str) -> np.ndarray:
    """(H, W, C) BGR or BGRA uint8 decoded by Pillow as ``mode`` (RGB or RGBA), upright."""
    with open_with_pillow(data, kind) as image:
        if image.mode != mode:
            image = image.convert(mode)
        array = np.asarray(image)
    array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA if mode == "RGBA" else cv2.COLOR_RGB2BGR)
    return _orient(array, orientation)


def _read_cmyk(
    path: str | os.PathLike[str], data: bytes, kind: str, header: Header, channel_order: str
) -> Picture:
    """A CMYK photo as sRGB, by ``lutcli.io.metadata.cmyk_to_srgb`` (Pillow decodes CMYK)."""
    notes = list(header.notes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = open_with_pillow(data, kind)
            image.load()
    except Exception:  # any failure of Pillow's decoders
        raise _cannot_read(path) from None
    pixels, icc_profile = cmyk_to_srgb(image, header.icc_profile, notes)
    array = _orient(pixels, header.orientation)
    return Picture(
        pixels=np.ascontiguousarray(array if channel_order == "RGB" else array[:, :, ::-1]),
        alpha=None,
        exif=header.exif,
        icc_profile=icc_profile,
        was_gray=False,
        channel_order=channel_order,
        notes=notes,
    )


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation 1-8 to an (H, W) or (H, W, C) array so that it displays upright.

    2 mirrors left-right, 3 turns 180 degrees, 4 mirrors top-bottom, 5 transposes, 6 turns 90
    degrees clockwise, 7 transposes across the other diagonal, 8 turns 90 degrees anticlockwise.
    """
    if orientation > 4:
        array = array.swapaxes(0, 1)
    flip_rows, flip_columns = _ORIENTATION_FLIPS[(orientation - 1) % 4 + 1]
    return np.ascontiguousarray(array[:: -1 if flip_rows else 1, :: -1 if flip_columns else 1])


# Writing ----------------------------------------------------------------------------------------


def write_image(
    path: str | os.PathLike[str], picture: Picture, jpeg_quality: int = 95, replace: bool = True
) -> None:
    """Write ``picture`` in the format its extension names, atomically, with its metadata.

    ``jpeg_quality`` (1-100) is also WebP's quality; WebP at 100 is lossless. A file at ``path``
    is replaced in one step (an interrupted write leaves it as it was, and no partial file);
    with ``replace`` False it is kept, even one that appeared while encoding, and
    DestinationExistsError is raised. Raises LutcliError for an unsupported extension or a file that
    cannot be written. An ICC profile that does not describe RGB is never written.
    """
    path = Path(path)
    extension = path.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        reason = f"unsupported file type '{extension}'" if extension else "no file extension"
        raise LutcliError(f"cannot write '{path}': {reason} (use {_extension_list()})")
    if color_space(picture.icc_profile) not in (None, "RGB"):
        picture = dataclasses.replace(picture, icc_profile=None)
    if extension in (".png", ".tif", ".tiff", ".jpg", ".jpeg"):
        pieces = _encode_with_opencv(extension, picture, jpeg_quality)
    else:
        pieces = [_encode_with_pillow(extension, picture, jpeg_quality)]
    try:
        with atomic_write(path, replace) as handle:
            for piece in pieces:  # the encoded file is not joined into one more copy
                handle.write(piece)
    except DestinationExistsError:
        raise
    except OSError as error:
        raise LutcliError(f"cannot write '{path}': {os_error_reason(error)}") from None


def write_pixels(path: str | os.PathLike[str], pixels: np.ndarray) -> None:
    """Write (H, W, 3) uint8 or uint16 RGB ``pixels`` as ``write_image`` does, without metadata."""
    write_image(path, Picture(pixels, None, None, None, was_gray=False))


# Rows converted at a time: a 16-bit photo is rounded to 8 bits without a 32-bit copy of it.
_ROWS_PER_BLOCK = 256


def _to_8bit(array: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 rounded to nearest (65535 -> 255); uint8 unchanged."""
    if array.dtype == np.uint8:
        return array
    result = np.empty(array.shape, np.uint8)
    for top in range(0, array.shape[0], _ROWS_PER_BLOCK):
        rows = slice(top, top + _ROWS_PER_BLOCK)
        result[rows] = (array[rows].astype(np.uint32) + 128) // 257
    return result


def _encode_with_pillow(extension: str, picture: Picture, quality: int) -> memoryview:
    """Encode 8-bit WebP or BMP with Pillow, which writes the EXIF and ICC too."""
    pixels = _to_8bit(picture.pixels)
    if picture.channel_order == "BGR":
        pixels = pixels[..., ::-1]
    if extension == ".webp":
        if picture.alpha is not None:
            pixels = np.dstack([pixels, _to_8bit(picture.alpha)])
        # exact: keep the color of fully transparent pixels, which libwebp may otherwise change.
        lossless = quality == 100
        options = {"format": "WEBP", "quality": quality, "lossless": lossless, "exact": True}
        options.update(pillow_metadata(picture.exif, picture.icc_profile))
    else:
        options = {"format": "BMP"}
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, **options)
    return buffer.getbuffer()


def _encode_with_opencv(
    extension: str, picture: Picture, jpeg_quality: int
) -> list[bytes | memoryview]:
    """Encode PNG or TIFF (8 or 16-bit) or JPEG (8-bit, 4:4:4) with OpenCV, then add the
    metadata: the file's pieces, in order."""
    jpeg = extension in (".jpg", ".jpeg")
    pixels = _to_8bit(picture.pixels) if jpeg else picture.pixels
    if picture.channel_order == "RGB":
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    options = []
    if jpeg:  # no alpha in JPEG
        options = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        options += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    elif picture.alpha is not None:
        pixels = np.dstack([pixels, picture.alpha])
    ok, encoded = cv2.imencode(extension, pixels, options)
    if not ok:
        raise LutcliError(f"OpenCV could not encode a {pixels.shape} image as {extension}")
    return with_metadata(
        extension, memoryview(encoded).cast("B"), picture.exif, picture.icc_profile
    )
