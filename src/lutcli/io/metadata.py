"""Photo metadata in its containers: the EXIF block and ICC profile read from a file's headers,
written back into an encoded file, and ICC profiles made to describe the RGB pixels read.

Reading: Pillow parses the headers of JPEG, PNG, TIFF and BMP (never their pixels), and WebP's
RIFF chunks are stepped over here (Pillow's reader allocates the whole picture to open one).
Metadata that cannot be parsed is left out with a note, rather than refusing the photo.

Writing, per format:

- JPEG: EXIF and ICC profile, as ``APP1`` and ``APP2`` segments inserted after ``APP0``.
- PNG, 8 and 16-bit: EXIF and ICC profile, as ``eXIf`` and ``iCCP`` chunks inserted after
  ``IHDR``.
- TIFF, 8 and 16-bit: EXIF tags and ICC profile, added to OpenCV's tag directory, which is
  rebuilt (Pillow's compressed TIFF writer fails on EXIF sub-directories).
- WebP: EXIF and ICC profile, as options of Pillow's encoder.
- BMP: none; the format has no place for it.

Profiles: the pixels always come out RGB, so a CMYK photo is converted to sRGB through its
profile by LittleCMS, gray with a gray profile likewise, and a profile for other pixels than
RGB is left out (viewers would show wrong colours, or fail).
"""

from __future__ import annotations

import importlib
import io
import itertools
import struct
import warnings
import zlib
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # Pillow's plugins and LittleCMS are imported where they are used
    from PIL import ImageCms, ImageFile

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

# Reading ----------------------------------------------------------------------------------------


class Header(NamedTuple):
    """What a file's headers say, read without decoding its pixels."""

    size: tuple[int, int]  # (width, height) as stored
    mode: str  # Pillow's name for the stored pixels: "RGB", "L", "CMYK", "I;16", ...
    orientation: int
    exif: bytes | None  # as Pillow's Exif.tobytes() gives it, Orientation reset to 1
    icc_profile: bytes | None
    straight_alpha: bool  # a TIFF whose extra sample is unassociated alpha
    notes: tuple[str, ...]


# Pillow's readers (module, class), called directly: Image.open would also apply Pillow's own
# pixel limit, a process-wide setting, where lutcli applies its own. Each module is imported on
# first use: all of them, with LittleCMS, take a tenth of lutcli's start-up.
_PILLOW_READERS = {
    "jpeg": ("PIL.JpegImagePlugin", "JpegImageFile"),
    "png": ("PIL.PngImagePlugin", "PngImageFile"),
    "tiff": ("PIL.TiffImagePlugin", "TiffImageFile"),
    "bmp": ("PIL.BmpImagePlugin", "BmpImageFile"),
}


def open_with_pillow(source: bytes | BinaryIO, kind: str) -> ImageFile.ImageFile:
    """Pillow's reader of ``kind`` ("jpeg", "png", "tiff" or "bmp") on the file's bytes or the
    open file (which it leaves open)."""
    module, reader = _PILLOW_READERS[kind]
    file = io.BytesIO(source) if isinstance(source, bytes) else source
    return getattr(importlib.import_module(module), reader)(file)


def read_header(handle: BinaryIO, kind: str) -> Header | None:
    """Size, layout, EXIF and ICC profile of the open file of format ``kind`` ("jpeg", "png",
    "tiff", "webp" or "bmp"), from its headers; None when they cannot be parsed or give no
    size (a corrupt file). Pillow's warnings about odd EXIF data are silenced.
    """
    if kind == "webp":
        return _webp_header(handle)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = open_with_pillow(handle, kind)
    except Exception:  # any failure in Pillow's header parsers: the file is not readable
        return None
    with image:
        notes = []
        pages = getattr(image, "n_frames", 1) if kind == "tiff" else 1
        if pages > 1:
            notes.append(f"only the first of its {pages} pages is processed")
        extra_samples = image.tag_v2.get(_EXTRA_SAMPLES) if kind == "tiff" else None
        orientation, exif = _parse_exif(image, kind, notes)
        return Header(
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


def _webp_header(handle: BinaryIO) -> Header | None:
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
        return None
    notes = ["it is animated: only its first frame is processed"] if b"ANIM" in chunks else []
    orientation, exif = 1, None
    if chunks.get(b"EXIF"):
        holder = Image.new("L", (1, 1))  # Pillow parses EXIF that an image's info holds
        holder.info["exif"] = chunks[b"EXIF"]
        orientation, exif = _parse_exif(holder, "webp", notes)
    mode = "RGBA" if b"ALPH" in chunks or b"VP8L" in chunks else "RGB"
    icc = chunks.get(b"ICCP") or None
    return Header(size, mode, orientation, exif, icc, False, tuple(notes))


# ICC profiles -----------------------------------------------------------------------------------


def color_space(icc_profile: bytes | None) -> str | None:
    """The colour space an ICC profile describes, from its header: "RGB", "GRAY", "CMYK"..."""
    if icc_profile is None or len(icc_profile) < 20:
        return None
    return icc_profile[16:20].decode("latin-1").strip()


def rgb_profile(icc_profile: bytes | None, notes: list[str]) -> bytes | None:
    """``icc_profile`` if it describes RGB pixels, else None with a note: a profile for other
    pixels than those written would make viewers show wrong colours, or fail."""
    space = color_space(icc_profile)
    if icc_profile is None or space == "RGB":
        return icc_profile
    notes.append(f"its ICC profile is for {space or 'unknown'} pixels, not RGB: left out")
    return None


def _srgb() -> ImageCms.ImageCmsProfile:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def cmyk_to_srgb(
    image: Image.Image, icc_profile: bytes | None, notes: list[str]
) -> tuple[np.ndarray, bytes | None]:
    """A CMYK picture -> (H, W, 3) uint8 sRGB pixels and an sRGB profile, converted by
    LittleCMS through its CMYK ICC profile; without a usable one, by Pillow's plain formula,
    with a note and no profile."""
    if color_space(icc_profile) != "CMYK":
        notes.append("CMYK without an ICC profile: colours converted by a plain formula")
        return np.array(image.convert("RGB")), None
    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(image, source, _srgb(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError) as error:  # OSError: bytes Pillow cannot parse
        notes.append(f"its CMYK profile cannot be used ({error}): colours converted plainly")
        return np.array(image.convert("RGB")), None
    return np.array(converted), _srgb().tobytes()


def gray_to_srgb(
    gray: np.ndarray, icc_profile: bytes, notes: list[str]
) -> tuple[np.ndarray, bytes | None]:
    """(H, W) gray pixels with a gray ICC profile -> (H, W, 3) sRGB pixels and an sRGB profile.

    Gray is one number per pixel, so LittleCMS converts the 256 levels once and the pixels go
    through that table (16-bit levels are interpolated in it). A profile LittleCMS cannot use is
    left out, with a note, and the gray copied to the three channels.
    """
    from PIL import ImageCms

    levels = Image.fromarray(np.arange(256, dtype=np.uint8)[None, :])
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        converted = ImageCms.profileToProfile(levels, source, _srgb(), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError) as error:  # OSError: bytes Pillow cannot parse
        notes.append(f"its gray ICC profile cannot be used ({error}): left out")
        return np.repeat(gray[:, :, None], 3, axis=2), None
    table = np.asarray(converted)[0]  # (256, 3)
    if gray.dtype == np.uint16:
        steps = np.arange(65536) / 257
        table = np.stack(
            [np.interp(steps, np.arange(256), table[:, c] * 257.0) for c in range(3)], 1
        )
        table = np.round(table).astype(np.uint16)
    return table[gray], _srgb().tobytes()


# Writing ----------------------------------------------------------------------------------------


def pillow_metadata(exif: bytes | None, icc_profile: bytes | None) -> dict[str, bytes]:
    """The options that make Pillow's encoders (WebP here) write the EXIF block and profile."""
    metadata = {}
    if exif:
        metadata["exif"] = _EXIF_HEADER + exif.removeprefix(_EXIF_HEADER)
    if icc_profile:
        metadata["icc_profile"] = icc_profile
    return metadata


def with_metadata(
    extension: str, encoded: memoryview, exif: bytes | None, icc_profile: bytes | None
) -> list[bytes | memoryview]:
    """OpenCV's ``encoded`` JPEG, PNG or TIFF file (by ``extension``) with the EXIF block and
    ICC profile added: the new file's pieces, in order (the pixels' bytes are not copied)."""
    exif = exif.removeprefix(_EXIF_HEADER) if exif else None
    if extension in (".jpg", ".jpeg"):
        return _jpeg_with_metadata(encoded, exif, icc_profile)
    if extension == ".png":
        return _png_with_metadata(encoded, exif, icc_profile)
    return _tiff_with_metadata(encoded, exif, icc_profile)


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
    from PIL import TiffImagePlugin, TiffTags

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
