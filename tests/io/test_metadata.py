"""Photo metadata in its containers, checked directly: what the headers say, the EXIF block and
ICC profile added to OpenCV's JPEG, PNG and TIFF files (read back by Pillow and tifffile), and
profiles that do not describe RGB pixels."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from lutcli.io.metadata import (
    cmyk_to_srgb,
    color_space,
    gray_to_srgb,
    pillow_metadata,
    read_header,
    rgb_profile,
    with_metadata,
)

MAKE = 0x010F
ORIENTATION = 0x0112
EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003


def exif_bytes(orientation: int | None = None, thumbnail: int = 0) -> bytes:
    """An EXIF block (as Pillow writes it, without the ``Exif\\0\\0`` header) with a Make, a
    date in the EXIF sub-directory and, for size, ``thumbnail`` bytes of maker notes."""
    exif = Image.Exif()
    exif[MAKE] = "lutcli-test"
    exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = "2024:05:06 07:08:09"
    if thumbnail:
        exif.get_ifd(EXIF_IFD)[0x927C] = bytes(thumbnail)  # MakerNote
    if orientation is not None:
        exif[ORIENTATION] = orientation
    return exif.tobytes()


@pytest.fixture(scope="module")
def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def pixels(channels: int = 3, dtype: type[np.generic] = np.uint8) -> np.ndarray:
    values = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, (9, 13, channels))
    return values.astype(dtype)


def encoded(extension: str, image: np.ndarray) -> memoryview:
    ok, data = cv2.imencode(extension, image)
    assert ok
    return memoryview(data).cast("B")


def joined(pieces: list[bytes | memoryview]) -> bytes:
    return b"".join(bytes(piece) for piece in pieces)


# Writing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".jpg", ".png"])
def test_pillow_reads_the_added_exif_and_profile_and_the_pixels_are_opencvs(
    srgb_profile, extension
):
    image = pixels()
    plain = encoded(extension, image)
    data = joined(with_metadata(extension, plain, exif_bytes(), srgb_profile))
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.info["icc_profile"] == srgb_profile
        exif = opened.getexif()
        assert exif[MAKE] == "lutcli-test"
        assert exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] == "2024:05:06 07:08:09"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded, cv2.imdecode(np.asarray(plain), cv2.IMREAD_UNCHANGED))


def test_a_jpeg_gets_exif_then_profile_right_after_its_jfif_segment(srgb_profile):
    data = joined(with_metadata(".jpg", encoded(".jpg", pixels()), exif_bytes(), srgb_profile))
    app0_end = 4 + int.from_bytes(data[4:6], "big")
    assert data[:4] == b"\xff\xd8\xff\xe0" and data[6:11] == b"JFIF\x00"
    assert data[app0_end : app0_end + 2] == b"\xff\xe1"
    app1_end = app0_end + 2 + int.from_bytes(data[app0_end + 2 : app0_end + 4], "big")
    assert data[app0_end + 4 : app0_end + 10] == b"Exif\x00\x00"
    assert data[app1_end : app1_end + 2] == b"\xff\xe2"
    assert data[app1_end + 4 : app1_end + 16] == b"ICC_PROFILE\x00"


def test_a_large_jpeg_profile_is_split_and_a_too_large_exif_block_left_out():
    profile = bytes(range(256)) * 600  # 150 KB: three APP2 segments
    block = exif_bytes(thumbnail=70_000)  # more than one segment holds
    data = joined(with_metadata(".jpg", encoded(".jpg", pixels()), block, profile))
    assert data.count(b"ICC_PROFILE\x00") == 3
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.info["icc_profile"] == profile
        assert "exif" not in opened.info


def strips(tiff: bytes) -> list[bytes]:
    """The compressed strips of a TIFF's first page, found by tifffile."""
    with tifffile.TiffFile(io.BytesIO(tiff)) as opened:
        page = opened.pages[0]
        places = zip(page.dataoffsets, page.databytecounts, strict=True)
        return [tiff[start : start + count] for start, count in places]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tifffile_reads_the_tags_added_to_opencvs_tiff(srgb_profile, dtype):
    image = pixels(4, dtype)
    plain = encoded(".tif", image)
    data = joined(with_metadata(".tif", plain, exif_bytes(), srgb_profile))
    assert strips(data) == strips(bytes(plain))  # moved, not changed
    with tifffile.TiffFile(io.BytesIO(data)) as tiff:
        page = tiff.pages[0]
        assert (page.shape, page.dtype) == (image.shape, image.dtype)
        assert page.tags["InterColorProfile"].value == srgb_profile
        assert page.tags["Make"].value == "lutcli-test"
        assert page.tags["ExifTag"].value["DateTimeOriginal"] == "2024:05:06 07:08:09"
        assert page.tags["ExtraSamples"].value == (2,)  # unassociated alpha


def test_a_webp_written_with_pillows_options_keeps_the_exif_block(srgb_profile):
    """The block is taken with or without its ``Exif\\0\\0`` header."""
    for block in (exif_bytes(), b"Exif\x00\x00" + exif_bytes()):
        buffer = io.BytesIO()
        options = pillow_metadata(block, srgb_profile)
        Image.fromarray(pixels()).save(buffer, format="WEBP", **options)
        with Image.open(buffer) as opened:
            assert opened.getexif()[MAKE] == "lutcli-test"
            assert opened.info["icc_profile"] == srgb_profile
    assert pillow_metadata(None, None) == {}


# Reading ----------------------------------------------------------------------------------------


def webp(mode: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (301, 77), (10, 20, 30, 40)[: len(mode)]).save(buffer, "WEBP", **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "mode"),
    [
        pytest.param(webp("RGB"), "RGB", id="lossy"),
        pytest.param(webp("RGB", lossless=True), "RGBA", id="lossless"),
        pytest.param(webp("RGBA"), "RGBA", id="lossy with alpha"),
        pytest.param(webp("RGB", exif=b"Exif\x00\x00" + exif_bytes(6)), "RGB", id="with EXIF"),
    ],
)
def test_a_webp_header_gives_pillows_size(data, mode):
    header = read_header(io.BytesIO(data), "webp")
    with Image.open(io.BytesIO(data)) as opened:
        assert header.size == opened.size == (301, 77)
    assert header.mode == mode and header.notes == ()


def test_the_orientation_is_read_and_reset_to_1_in_the_block_kept():
    data = webp("RGB", exif=b"Exif\x00\x00" + exif_bytes(6))
    header = read_header(io.BytesIO(data), "webp")
    exif = Image.Exif()
    exif.load(header.exif)
    assert header.orientation == 6
    assert (exif[ORIENTATION], exif[MAKE]) == (1, "lutcli-test")


@pytest.mark.parametrize("kind", ["jpeg", "png", "tiff", "webp", "bmp"])
def test_headers_that_cannot_be_parsed_are_none(kind):
    start = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n", "tiff": b"II*\x00"}
    data = start.get(kind, b"RIFF\x00\x00\x00\x00WEBP" if kind == "webp" else b"BM") + bytes(40)
    assert read_header(io.BytesIO(data), kind) is None


# Profiles ---------------------------------------------------------------------------------------


def profile_for(space: bytes) -> bytes:
    """128 header bytes that name ``space``: LittleCMS cannot use them as a profile."""
    return bytes(16) + space + bytes(108)


def test_only_profiles_of_rgb_pixels_are_kept(srgb_profile):
    notes: list[str] = []
    assert color_space(srgb_profile) == "RGB"
    assert rgb_profile(srgb_profile, notes) == srgb_profile
    assert rgb_profile(None, notes) is None and notes == []
    assert rgb_profile(profile_for(b"CMYK"), notes) is None
    assert rgb_profile(b"short", notes) is None
    assert notes == [
        "its ICC profile is for CMYK pixels, not RGB: left out",
        "its ICC profile is for unknown pixels, not RGB: left out",
    ]


def test_a_gray_profile_that_cannot_be_used_is_left_out_with_the_gray_kept():
    gray = pixels(1, np.uint16)[..., 0]
    notes: list[str] = []
    converted, profile = gray_to_srgb(gray, profile_for(b"GRAY"), notes)
    assert profile is None and len(notes) == 1
    assert notes[0].startswith("its gray ICC profile cannot be used")
    np.testing.assert_array_equal(converted, np.stack([gray] * 3, axis=-1))


def test_a_cmyk_profile_that_cannot_be_used_converts_plainly_with_a_note():
    image = Image.fromarray(pixels(4), "CMYK")
    notes: list[str] = []
    converted, profile = cmyk_to_srgb(image, profile_for(b"CMYK"), notes)
    assert profile is None and len(notes) == 1
    assert notes[0].startswith("its CMYK profile cannot be used")
    np.testing.assert_array_equal(converted, np.asarray(image.convert("RGB")))
