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
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch
from PIL import Image, ImageOps, TiffImagePlugin, TiffTags

from lutcli.errors import ImageReadError, LutcliError
from lutcli.fileutil import atomic_write

# Our error is the one line a user should see; OpenCV would also log its own to stderr.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}
)

_MAX_VALUE = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}
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

    @property
    def bit_depth(self) -> int:
        """Bits per channel: 8 or 16."""
        return self.pixels.dtype.itemsize * 8


# Reading ----------------------------------------------------------------------------------------


def read_image(path: str | os.PathLike[str], channel_order: str = "RGB") -> Picture:
    """Read a photo upright, with its alpha, EXIF and ICC profile; the pixels in
    ``channel_order`` ("RGB" or "BGR").

    Raises ImageReadError (one line naming the file) for a missing, empty, truncated, corrupt or
    unsupported file, including bit depths other than 8 and 16.
    """
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")
    if Path(path).suffix.lower() not in SUPPORTED_EXTENSIONS:
        raise _cannot_read(path, f"unsupported file type (use {_extension_list()})")
    data = _read_bytes(path)
    kind = _kind(data)
    if kind is None or _is_truncated(data, kind):
        raise _cannot_read(path)
    try:
        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        array = None
    if array is None:
        raise _cannot_read(path)
    if array.dtype not in _MAX_VALUE:
        raise _cannot_read(path, f"{array.dtype} samples are not supported (8 and 16-bit only)")
    meta = _read_metadata(data, kind)
    if kind != "tiff":
        array = _orient(array, meta.orientation)
    elif meta.straight_alpha and array.dtype == np.uint8 and array.shape[2:] == (4,):
        # libtiff's RGBA reader, which OpenCV uses for 8-bit TIFF, premultiplies this alpha.
        with contextlib.suppress(OSError):
            array = _decode_with_pillow(data)
    # else: OpenCV's TIFF decoder has applied the Orientation tag itself.
    array = array.reshape(array.shape[0], array.shape[1], -1)
    channels = array.shape[2]
    color = np.ascontiguousarray(array[:, :, :1] if channels == 2 else array)
    conversion = _CONVERSIONS[channel_order][channels]
    return Picture(
        pixels=color if conversion is None else cv2.cvtColor(color, conversion),
        alpha=np.ascontiguousarray(array[:, :, -1]) if channels in (2, 4) else None,
        exif=meta.exif,
        icc_profile=meta.icc_profile,
        was_gray=channels <= 2 or meta.gray,
        channel_order=channel_order,
    )


def _cannot_read(
    path: str | os.PathLike[str], reason: str = "not a supported image or the file is corrupt"
) -> ImageReadError:
    return ImageReadError(f"cannot read '{os.fspath(path)}': {reason}")


def _extension_list() -> str:
    return ", ".join(sorted(SUPPORTED_EXTENSIONS))


def _read_bytes(path: str | os.PathLike[str]) -> bytes:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise _cannot_read(path, "no such file") from None
    except IsADirectoryError:
        raise _cannot_read(path, "is a folder, not an image") from None
    except OSError as error:
        raise _cannot_read(path, str(error.strerror or error)) from None
    if not data:
        raise _cannot_read(path, "the file is empty")
    return data


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


class _Metadata(NamedTuple):
    """What a file's headers say."""

    orientation: int
    exif: bytes | None
    icc_profile: bytes | None
    gray: bool  # stored as gray (OpenCV hands gray+alpha PNGs over as BGRA)
    straight_alpha: bool  # a TIFF whose extra sample is unassociated alpha


def _read_metadata(data: bytes, kind: str) -> _Metadata:
    """EXIF, ICC profile and layout from the headers, by Pillow, without decoding any pixels.

    Best effort: metadata Pillow cannot parse is dropped rather than refusing a photo whose pixels
    decode, and Pillow's warnings about odd EXIF data are silenced.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "tiff":
                exif = Image.Exif()
                exif.load_from_fp(io.BytesIO(data))  # a TIFF's own tags are its EXIF block
                icc, gray = exif.get(_ICC_PROFILE), False
            else:
                with Image.open(io.BytesIO(data)) as image:
                    # The base class method: PNG's own getexif() decodes every pixel to look for
                    # an eXIf chunk after them, where the PNG specification does not allow one.
                    exif = Image.Image.getexif(image)
                    icc, gray = image.info.get("icc_profile"), Image.getmodebase(image.mode) == "L"
            orientation = exif.get(_ORIENTATION, 1)
            extra_samples = exif.get(_EXTRA_SAMPLES)
            straight_alpha = extra_samples in (_UNASSOCIATED_ALPHA, (_UNASSOCIATED_ALPHA,))
            for tag in _TIFF_LAYOUT_TAGS.intersection(exif):
                del exif[tag]
            if _ORIENTATION in exif:
                exif[_ORIENTATION] = 1
            return _Metadata(
                orientation=orientation if orientation in range(1, 9) else 1,
                exif=exif.tobytes() if len(exif) else None,
                icc_profile=icc or None,
                gray=gray,
                straight_alpha=straight_alpha,
            )
    except Exception:  # any parse failure in Pillow's metadata code: keep the pixels
        return _Metadata(1, None, None, False, False)


def _decode_with_pillow(data: bytes) -> np.ndarray:
    """(H, W, 4) BGRA uint8 from Pillow, upright."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image).convert("RGBA")
        return cv2.cvtColor(np.asarray(upright), cv2.COLOR_RGBA2BGRA)


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


def write_image(path: str | os.PathLike[str], picture: Picture, jpeg_quality: int = 95) -> None:
    """Write ``picture`` in the format its extension names, atomically, with its metadata.

    ``jpeg_quality`` (1-100) is also WebP's quality; WebP at 100 is lossless. A file at ``path``
    is replaced in one step: an interrupted write leaves it as it was, and no partial file.
    Raises LutcliError for an unsupported extension or a file that cannot be written.
    """
    path = Path(path)
    extension = path.suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        reason = f"unsupported file type '{extension}'" if extension else "no file extension"
        raise LutcliError(f"cannot write '{path}': {reason} (use {_extension_list()})")
    if extension in (".png", ".tif", ".tiff", ".jpg", ".jpeg"):
        data = _encode_with_opencv(extension, picture, jpeg_quality)
    else:
        data = _encode_with_pillow(extension, picture, jpeg_quality)
    try:
        with atomic_write(path) as handle:
            handle.write(data)
    except OSError as error:
        raise LutcliError(f"cannot write '{path}': {error.strerror or error}") from None


def _to_8bit(array: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 rounded to nearest (65535 -> 255); uint8 unchanged."""
    if array.dtype == np.uint8:
        return array
    return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _encode_with_pillow(extension: str, picture: Picture, quality: int) -> bytes:
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
    return buffer.getvalue()


def _encode_with_opencv(extension: str, picture: Picture, jpeg_quality: int) -> bytes:
    """Encode PNG or TIFF (8 or 16-bit) or JPEG (8-bit, 4:4:4) with OpenCV, then add the
    metadata."""
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
    if jpeg:
        return _jpeg_with_metadata(encoded.tobytes(), exif, picture.icc_profile)
    if extension == ".png":
        return _png_with_metadata(encoded.tobytes(), exif, picture.icc_profile)
    return _tiff_with_metadata(encoded.tobytes(), exif, picture.icc_profile)


# A JPEG segment holds at most this many bytes after its 2-byte length.
_JPEG_SEGMENT = 65533
_ICC_MARKER = b"ICC_PROFILE\x00"


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_with_metadata(jpeg: bytes, exif: bytes | None, icc_profile: bytes | None) -> bytes:
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
    return jpeg[:position] + segments + jpeg[position:]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_with_metadata(png: bytes, exif: bytes | None, icc_profile: bytes | None) -> bytes:
    """Insert ``iCCP`` and ``eXIf`` chunks right after IHDR (both must come before the pixels)."""
    chunks = b""
    if icc_profile:
        # Profile name, NUL, compression method 0 (zlib), compressed profile.
        chunks += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile))
    if exif:
        chunks += _png_chunk(b"eXIf", exif)
    end_of_header = 8 + 8 + 13 + 4  # signature; IHDR length and type, 13 data bytes, CRC
    return png[:end_of_header] + chunks + png[end_of_header:]


def _tiff_with_metadata(tiff: bytes, exif: bytes | None, icc_profile: bytes | None) -> bytes:
    """Rebuild OpenCV's TIFF as header, tag directory with the metadata added, then the strips.

    The compressed strips are copied unchanged. OpenCV labels no alpha; it is marked here as
    unassociated (not premultiplied), which is what the samples are.
    """
    source = io.BytesIO(tiff)
    stored = TiffImagePlugin.ImageFileDirectory_v2(source.read(8))
    source.seek(stored.next)
    stored.load(source)
    tags = TiffImagePlugin.ImageFileDirectory_v2(prefix=stored.prefix)
    for tag, value in stored.items():
        tags[tag] = value
        tags.tagtype[tag] = stored.tagtype[tag]
    counts = tags[_STRIP_BYTE_COUNTS]
    starts = tags[_STRIP_OFFSETS]
    strips = b"".join(tiff[start : start + n] for start, n in zip(starts, counts, strict=True))
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
    output.write(strips)
    return output.getvalue()


# Tensors ----------------------------------------------------------------------------------------


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 or uint16 -> (1, 3, H, W) float32 in [0, 1] (divided by 255 or 65535)."""
    if pixels.dtype not in _MAX_VALUE or pixels.ndim != 3:
        raise ValueError(f"expected (H, W, C) uint8 or uint16, got {pixels.shape} {pixels.dtype}")
    chw = np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32)
    chw /= _MAX_VALUE[pixels.dtype]
    return torch.from_numpy(chw).unsqueeze(0)


def from_tensor(image: torch.Tensor, dtype: np.dtype | type[np.generic]) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float -> (H, W, 3) of ``dtype`` (uint8 or uint16).

    Values are clamped to [0, 1], scaled to 255 or 65535 and rounded to nearest.
    """
    dtype = np.dtype(dtype)
    if dtype not in _MAX_VALUE:
        raise ValueError(f"expected uint8 or uint16, got {dtype}")
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3:
        raise ValueError(f"expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(image.shape)}")
    scaled = image.detach().float().clamp(0, 1).mul(_MAX_VALUE[dtype]).round()
    return scaled.permute(1, 2, 0).cpu().numpy().astype(dtype, order="C")
