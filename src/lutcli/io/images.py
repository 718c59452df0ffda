"""Reading and writing photos: JPEG, PNG, TIFF, WebP and BMP at 8 or 16 bits per channel.

OpenCV decodes the pixels (fast, keeps 16 bits and alpha; the file's bytes go through memory, so
non-ASCII paths work). Pillow reads the metadata OpenCV drops, from the headers only: the EXIF
block (with the orientation a camera records) and the ICC profile, and writes them back.

Metadata written per output format:

- JPEG (encoded by OpenCV, a third faster than Pillow at the same settings): EXIF and ICC
  profile, as ``APP1`` and ``APP2`` segments added here.
- WebP (encoded by Pillow): EXIF and ICC profile.
- PNG, 8 and 16-bit (OpenCV; Pillow has no 16-bit RGB and is much slower): EXIF and ICC
  profile, as ``eXIf`` and ``iCCP`` chunks added here.
- TIFF, 8 and 16-bit (OpenCV, LZW): EXIF tags and ICC profile, added to OpenCV's tag directory
  here (Pillow's compressed TIFF writer fails on EXIF sub-directories).
- BMP: none; the format has no place for it.

JPEG and BMP have no alpha channel: alpha is dropped there. JPEG, WebP and BMP have no 16-bit
form: 16-bit pixels are rounded to 8 bits for them.

The size is read from the headers before any pixel is decoded, and a photo over the pixel limit
(``LUTCLI_MAX_PIXELS``, by default Pillow's decompression-bomb threshold) is refused: a small
file can claim a huge picture. The pixels always come out RGB, so an ICC profile always
describes RGB: CMYK is converted to sRGB through its profile by LittleCMS, and a gray or other
profile that does not fit the pixels is converted or left out. What reading changed or left out
is listed in ``Picture.notes`` for the caller to tell the user.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

import cv2
import numpy as np
from PIL import (
    BmpImagePlugin,
    Image,
    ImageCms,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    TiffTags,
)

from lutcli.errors import ImageReadError, LutcliError, os_error_reason
from lutcli.fileutil import DestinationExistsError, atomic_write
from lutcli.io.pixels import MAX_VALUE
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
_EXIF_HEADER = b"Exif\x00\x00"

# TIFF / EXIF tag numbers.
_ORIENTATION = 0x0112
_STRIP_OFFSETS = 273
_STRIP_BYTE_COUNTS = 279
_SAMPLES_PER_PIXEL = 277
_EXTRA_SAMPLES = 338
_UNASSOCIATED_ALPHA = 2
_ICC_PROFILE = 34675
# Tags that describe how a TIFF stores its pixels, not the photo: a TIFF's own tag directory is
# its EXIF block, and these must not travel to another file. The ICC profile travels separately.
_TIFF_LAYOUT_TAGS = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320, 322}
    | {323, 324, 325, 330, 338, 339, 340, 341, 347, 529, 530, 531, 532, _ICC_PROFILE}
)
# Flips (rows, columns) that, after a transpose for orientations 5-8, make a photo upright.
_ORIENTATION_FLIPS = {1: (False, False), 2: (False, True), 3: (True, True), 4: (True, False)}
CHANNEL_ORDERS = ("RGB", "BGR")
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
    notes: list[str] = field(default_factory=list)
    """What reading left out or changed that the user should know (one short line each)."""

    @property
    def bit_depth(self) -> int:
        """Bits per channel: 8 or 16."""
        return self.pixels.dtype.itemsize * 8


# Reading ----------------------------------------------------------------------------------------


def read_image(
    path: str | os.PathLike[str], channel_order: str = "RGB", max_pixels: int | None = None
) -> Picture:
    """Read a photo upright, with its alpha, EXIF and ICC profile; the pixels in
    ``channel_order`` ("RGB" or "BGR").

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
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        array = None
    if array is None:
        raise _cannot_read(path)
    if array.dtype not in MAX_VALUE:
        raise _cannot_read(path, f"{array.dtype} samples are not supported (8 and 16-bit only)")
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
    if gray and _color_space(icc_profile) == "GRAY":  # the channels of gray are equal
        pixels, icc_profile = _gray_to_srgb(color[:, :, 0], icc_profile, notes)
        if channel_order == "BGR":
            pixels = pixels[:, :, ::-1]
    else:
        conversion = _CONVERSIONS[channel_order][channels]
        pixels = color if conversion is None else cv2.cvtColor(color, conversion)
    return Picture(
        pixels=np.ascontiguousarray(pixels),
        alpha=np.ascontiguousarray(array[:, :, -1]) if channels in (2, 4) else None,
        exif=header.exif,
        icc_profile=_rgb_profile(icc_profile, notes),
        was_gray=gray,
        channel_order=channel_order,
        notes=notes,
    )


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


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP"


def _cannot_read(
    path: str | os.PathLike[str], reason: str = "not a supported image or the file is corrupt"
) -> ImageReadError:
    return ImageReadError(f"cannot read '{os.fspath(path)}': {reason}")


def _extension_list() -> str:
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


def _read_file(path: str | os.PathLike[str], max_pixels: int) -> tuple[str, _Header, bytes]:
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
            kind = _kind(handle.read(16))
            if kind is None:
                raise _cannot_read(path)
            handle.seek(0)
            header = _read_header(path, handle, kind)
            reason = over_pixel_limit(*header.size, max_pixels)
            if reason is not None:
                raise _cannot_read(path, reason)
            handle.seek(0)
            return kind, header, handle.read()
    except FileNotFoundError:
        raise _cannot_read(path, "no such file") from None
    except IsADirectoryError:
        raise _cannot_read(path, "is a folder, not an image") from None
    except OSError as error:
        raise _cannot_read(path, os_error_reason(error)) from None


def _kind(data: bytes) -> str | None:
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
    marker); the compressed data after a scan header never contains the bytes FF D9.
    """
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan
            return data.find(b"\xff\xd9", position) != -1
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


class _Header(NamedTuple):
    """What a file's headers say, read without decoding its pixels."""

    size: tuple[int, int]  # (width, height) as stored
    mode: str  # Pillow's name for the stored pixels: "RGB", "L", "CMYK", "I;16", ...
    orientation: int
    exif: bytes | None
    icc_profile: bytes | None
    straight_alpha: bool  # a TIFF whose extra sample is unassociated alpha
    notes: tuple[str, ...]


# Pillow's readers, called directly: Image.open would also apply Pillow's own pixel limit, a
# process-wide setting, where this module applies its own.
_PILLOW_READERS: dict[str, type[ImageFile.ImageFile]] = {
    "jpeg": JpegImagePlugin.JpegImageFile,
    "png": PngImagePlugin.PngImageFile,
    "tiff": TiffImagePlugin.TiffImageFile,
    "bmp": BmpImagePlugin.BmpImageFile,
}


def _open_with_pillow(source: bytes | BinaryIO, kind: str) -> ImageFile.ImageFile:
    """Pillow's reader of ``kind`` on the file's bytes or the open file (which it leaves open)."""
    return _PILLOW_READERS[kind](io.BytesIO(source) if isinstance(source, bytes) else source)


def _read_header(path: str | os.PathLike[str], handle: BinaryIO, kind: str) -> _Header:
    """Size, layout, EXIF and ICC profile from the headers, by Pillow (WebP by hand: Pillow's
    reader allocates the whole picture to open one).

    A header that gives no size is a corrupt file. Metadata that cannot be parsed is left out
    with a note rather than refusing a photo whose pixels decode; Pillow's warnings about odd
    EXIF data are silenced.
    """
    if kind == "webp":
        return _webp_header(path, handle)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = _open_with_pillow(handle, kind)
    except Exception:  # any failure in Pillow's header parsers: the file is not readable
        raise _cannot_read(path) from None
    with image:
        notes = []
        pages = getattr(image, "n_frames", 1) if kind == "tiff" else 1
        if pages > 1:
            notes.append(f"only the first of its {pages} pages is processed")
        extra_samples = image.tag_v2.get(_EXTRA_SAMPLES) if kind == "tiff" else None
        orientation, exif = _parse_exif(image, kind, notes)
        return _Header(
            size=image.size,
            mode=image.mode,
            orientation=orientation,
            exif=exif,
            icc_profile=image.info.get("icc_profile") or None,
            straight_alpha=extra_samples in (_UNASSOCIATED_ALPHA, (_UNASSOCIATED_ALPHA,)),
            notes=tuple(notes),
        )


def _parse_exif(image: Image.Image, kind: str, notes: list[str]) -> tuple[int, bytes | None]:
    """The orientation and the EXIF block to write back (without the tags that describe how a
    TIFF stores its pixels; Orientation reset to 1 since the pixels are turned upright)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exif = Image.Exif()
            if kind == "tiff":  # a TIFF's own tags are its EXIF block
                image.fp.seek(0)
                exif.load_from_fp(image.fp)
            elif image.info.get("exif"):  # parsed here: Pillow's readers hide their failures
                exif.load(image.info["exif"])
            else:
                # The base class method: PNG's own getexif() decodes every pixel to look for an
                # eXIf chunk after them, where the PNG specification does not allow one.
                exif = Image.Image.getexif(image)
            orientation = exif.get(_ORIENTATION, 1)
            for tag in _TIFF_LAYOUT_TAGS.intersection(exif):
                del exif[tag]
            if _ORIENTATION in exif:
                exif[_ORIENTATION] = 1
            return (orientation if orientation in range(1, 9) else 1), (
                exif.tobytes() if len(exif) else None
            )
    except Exception as error:  # any parse failure in Pillow's EXIF code: keep the pixels
        notes.append(f"its EXIF data cannot be read ({error}): not copied, orientation not applied")
        return 1, None


def _little(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start:end], "little")


def _read_at(handle: BinaryIO, position: int, count: int) -> bytes:
    handle.seek(position)
    return handle.read(count)


def _webp_header(path: str | os.PathLike[str], handle: BinaryIO) -> _Header:
    """A WebP file's size, EXIF and ICC profile from its RIFF chunks, stepping over the rest."""
    chunks: dict[bytes, bytes] = {}
    position = 12
    while len(head := _read_at(handle, position, 8)) == 8:
        name, length = head[:4], _little(head, 4, 8)
        wanted = length if name in (b"EXIF", b"ICCP") else min(length, 10)  # 10: sizes
        chunks.setdefault(name, handle.read(wanted))
        position += 8 + length + (length & 1)
    extended, lossy, lossless = (chunks.get(name, b"") for name in (b"VP8X", b"VP8 ", b"VP8L"))
    if len(extended) >= 10:  # the canvas size, minus one
        size = (_little(extended, 4, 7) + 1, _little(extended, 7, 10) + 1)
    elif len(lossy) >= 10:  # after the frame tag and start code, 14 bits each
        size = (_little(lossy, 6, 8) & 0x3FFF, _little(lossy, 8, 10) & 0x3FFF)
    elif len(lossless) >= 5:  # after the signature byte, 14 bits each, minus one
        bits = _little(lossless, 1, 5)
        size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    else:
        raise _cannot_read(path)
    notes = ["it is animated: only its first frame is processed"] if b"ANIM" in chunks else []
    orientation, exif = 1, None
    if chunks.get(b"EXIF"):
        holder = Image.new("L", (1, 1))  # Pillow parses EXIF that an image's info holds
        holder.info["exif"] = chunks[b"EXIF"]
        orientation, exif = _parse_exif(holder, "webp", notes)
    mode = "RGBA" if b"ALPH" in chunks or b"VP8L" in chunks else "RGB"
    icc = chunks.get(b"ICCP") or None
    return _Header(size, mode, orientation, exif, icc, False, tuple(notes))


def _decode_with_pillow(data: bytes, kind: str, orientation: int, mode: str) -> np.ndarray:
    """(H, W, C) BGR or BGRA uint8 decoded by Pillow as ``mode`` (RGB or RGBA), upright."""
    with _open_with_pillow(data, kind) as image:
        if image.mode != mode:
            image = image.convert(mode)
        array = np.asarray(image)
    array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA if mode == "RGBA" else cv2.COLOR_RGB2BGR)
    return _orient(array, orientation)


def _read_cmyk(
    path: str | os.PathLike[str], data: bytes, kind: str, header: _Header, channel_order: str
) -> Picture:
    """A CMYK photo as sRGB: converted by LittleCMS through its ICC profile, which is replaced
    by an sRGB one; without a usable profile, by Pillow's plain formula (and a note)."""
    notes = list(header.notes)
    profile = header.icc_profile if _color_space(header.icc_profile) == "CMYK" else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = _open_with_pillow(data, kind)
            image.load()
    except Exception:  # any failure of Pillow's decoders
        raise _cannot_read(path) from None
    converted = None
    if profile is not None:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode="RGB")
        except ImageCms.PyCMSError as error:
            notes.append(f"its CMYK profile cannot be used ({error}): colours converted plainly")
    else:
        notes.append("CMYK without an ICC profile: colours converted by a plain formula")
    array = _orient(np.array(converted or image.convert("RGB")), header.orientation)
    return Picture(
        pixels=np.ascontiguousarray(array if channel_order == "RGB" else array[:, :, ::-1]),
        alpha=None,
        exif=header.exif,
        icc_profile=None if converted is None else _srgb_bytes(),
        was_gray=False,
        channel_order=channel_order,
        notes=notes,
    )


# ICC profiles -----------------------------------------------------------------------------------


def _color_space(icc_profile: bytes | None) -> str | None:
    """The colour space an ICC profile describes, from its header: "RGB", "GRAY", "CMYK"..."""
    if icc_profile is None or len(icc_profile) < 20:
        return None
    return icc_profile[16:20].decode("latin-1").strip()


def _rgb_profile(icc_profile: bytes | None, notes: list[str]) -> bytes | None:
    """``icc_profile`` if it describes RGB pixels, else None with a note: a profile for other
    pixels than those written would make viewers show wrong colours, or fail."""
    space = _color_space(icc_profile)
    if icc_profile is None or space == "RGB":
        return icc_profile
    notes.append(f"its ICC profile is for {space or 'unknown'} pixels, not RGB: left out")
    return None


def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _srgb_bytes() -> bytes:
    return _srgb().tobytes()


def _gray_to_srgb(
    gray: np.ndarray, icc_profile: bytes, notes: list[str]
) -> tuple[np.ndarray, bytes | None]:
    """(H, W) gray pixels with a gray ICC profile -> (H, W, 3) sRGB pixels and an sRGB profile.

    Gray is one number per pixel, so LittleCMS converts the 256 levels once and the pixels go
    through that table (16-bit levels are interpolated in it). A profile LittleCMS cannot use is
    left out, with a note, and the gray copied to the three channels.
    """
    levels = Image.fromarray(np.arange(256, dtype=np.uint8)[None, :])
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(levels, source, _srgb(), outputMode="RGB")
    except ImageCms.PyCMSError as error:
        notes.append(f"its gray ICC profile cannot be used ({error}): left out")
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), None
    table = np.asarray(converted)[0]  # (256, 3)
    if gray.dtype == np.uint16:
        steps = np.arange(65536) / 257
        table = np.stack(
            [np.interp(steps, np.arange(256), table[:, c] * 257.0) for c in range(3)], 1
        )
        table = np.round(table).astype(np.uint16)
    return table[gray], _srgb_bytes()


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
    if _color_space(picture.icc_profile) not in (None, "RGB"):
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
    metadata: dict[str, object] = {}
    if picture.exif:
        metadata["exif"] = _EXIF_HEADER + picture.exif.removeprefix(_EXIF_HEADER)
    if picture.icc_profile:
        metadata["icc_profile"] = picture.icc_profile
    if extension == ".webp":
        if picture.alpha is not None:
            pixels = np.dstack([pixels, _to_8bit(picture.alpha)])
        # exact: keep the color of fully transparent pixels, which libwebp may otherwise change.
        lossless = quality == 100
        options = {"format": "WEBP", "quality": quality, "lossless": lossless, "exact": True}
        options.update(metadata)
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
    exif = picture.exif.removeprefix(_EXIF_HEADER) if picture.exif else None
    data = memoryview(encoded).cast("B")
    if jpeg:
        return _jpeg_with_metadata(data, exif, picture.icc_profile)
    if extension == ".png":
        return _png_with_metadata(data, exif, picture.icc_profile)
    return _tiff_with_metadata(data, exif, picture.icc_profile)


# A JPEG segment holds at most this many bytes after its 2-byte length.
_JPEG_SEGMENT = 65533
_ICC_MARKER = b"ICC_PROFILE\x00"


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_with_metadata(
    jpeg: memoryview, exif: bytes | None, icc_profile: bytes | None
) -> list[bytes | memoryview]:
    """Insert the EXIF block (``APP1``) and the ICC profile (``APP2``, in as many numbered
    chunks as it needs) after the start of image and OpenCV's JFIF ``APP0`` segment. An EXIF
    block too large for one segment (a big embedded thumbnail) is left out, as other tools do.
    """
    segments = b""
    if exif and len(_EXIF_HEADER) + len(exif) <= _JPEG_SEGMENT:
        segments += _jpeg_segment(0xE1, _EXIF_HEADER + exif)
    if icc_profile:
        size = _JPEG_SEGMENT - len(_ICC_MARKER) - 2
        chunks = [icc_profile[i : i + size] for i in range(0, len(icc_profile), size)]
        for number, chunk in enumerate(chunks, start=1):
            segments += _jpeg_segment(0xE2, _ICC_MARKER + bytes([number, len(chunks)]) + chunk)
    position = 2  # after the start of image
    if jpeg[2:4] == b"\xff\xe0":  # JFIF APP0 first, as its specification wants
        position += 2 + int.from_bytes(jpeg[4:6], "big")
    return [jpeg[:position], segments, jpeg[position:]]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_with_metadata(
    png: memoryview, exif: bytes | None, icc_profile: bytes | None
) -> list[bytes | memoryview]:
    """Insert ``iCCP`` and ``eXIf`` chunks right after IHDR (both must come before the pixels)."""
    chunks = b""
    if icc_profile:
        # Profile name, NUL, compression method 0 (zlib), compressed profile.
        chunks += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile))
    if exif:
        chunks += _png_chunk(b"eXIf", exif)
    end_of_header = 8 + 8 + 13 + 4  # signature; IHDR length and type, 13 data bytes, CRC
    return [png[:end_of_header], chunks, png[end_of_header:]]


def _tiff_with_metadata(
    tiff: memoryview, exif: bytes | None, icc_profile: bytes | None
) -> list[bytes | memoryview]:
    """Rebuild OpenCV's TIFF as header, tag directory with the metadata added, then the strips.

    The compressed strips are copied unchanged. OpenCV labels no alpha; it is marked here as
    unassociated (not premultiplied), which is what the samples are.
    """
    stored = TiffImagePlugin.ImageFileDirectory_v2(bytes(tiff[:8]))
    source = io.BytesIO(tiff)
    source.seek(stored.next)
    stored.load(source)
    tags = TiffImagePlugin.ImageFileDirectory_v2(prefix=stored.prefix)
    for tag, value in stored.items():
        tags[tag] = value
        tags.tagtype[tag] = stored.tagtype[tag]
    counts = tags[_STRIP_BYTE_COUNTS]
    starts = tags[_STRIP_OFFSETS]
    strips = [tiff[start : start + n] for start, n in zip(starts, counts, strict=True)]
    # Offsets within the strip data: ImageFileDirectory_v2.save() shifts them past the tags.
    tags[_STRIP_OFFSETS] = tuple(itertools.accumulate(counts[:-1], initial=0))
    tags.tagtype[_STRIP_OFFSETS] = TiffTags.LONG
    if tags[_SAMPLES_PER_PIXEL] == 4:  # BGR + alpha
        tags[_EXTRA_SAMPLES] = (_UNASSOCIATED_ALPHA,)
    if exif:
        photo_tags = Image.Exif()
        photo_tags.load(exif)
        for tag in set(photo_tags) - set(tags) - _TIFF_LAYOUT_TAGS:
            is_group = tag in TiffTags.TAGS_V2_GROUPS  # the EXIF and GPS sub-directories
            tags[tag] = photo_tags.get_ifd(tag) if is_group else photo_tags[tag]
    if icc_profile:
        tags[_ICC_PROFILE] = icc_profile
    output = io.BytesIO()
    tags.save(output)
    return [output.getvalue(), *strips]
