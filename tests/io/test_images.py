"""Reading and writing photos: exact round trips, orientation, metadata, errors, atomic writes."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin
from skimage import color as skimage_color
from skimage import data as skimage_data

from lutcli.errors import ImageReadError, LutcliError
from lutcli.fileutil import DestinationExistsError
from lutcli.io import images
from lutcli.io.images import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_VARIABLE,
    SUPPORTED_EXTENSIONS,
    Picture,
    read_image,
    read_pixels,
    write_image,
)

MAKE = 0x010F
ORIENTATION = 0x0112
EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL = 0x9003


def noise(shape: tuple[int, ...], dtype: type[np.generic], seed: int = 0) -> np.ndarray:
    """Random values over the whole range of ``dtype``, both extremes included."""
    values = np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, shape, endpoint=True)
    values.flat[:2] = (0, np.iinfo(dtype).max)
    return values.astype(dtype)


def gradient(height: int = 48, width: int = 64) -> np.ndarray:
    """Smooth (H, W, 3) uint8: red grows to the right, green downwards, blue is constant."""
    red = np.linspace(20, 235, width)[None, :].repeat(height, 0)
    green = np.linspace(30, 220, height)[:, None].repeat(width, 1)
    blue = np.full((height, width), 128.0)
    return np.stack([red, green, blue], axis=-1).round().astype(np.uint8)


def upright_by_pillow(path: Path) -> np.ndarray:
    """The reference: Pillow's exif_transpose (from bytes; Pillow 13 mis-shapes mmapped TIFFs)."""
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        return np.asarray(ImageOps.exif_transpose(image))


def exif_bytes(orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[MAKE] = "lutcli-test"
    exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] = "2024:05:06 07:08:09"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    return exif.tobytes()


def parse_exif(raw: bytes | None) -> Image.Exif:
    assert raw is not None
    exif = Image.Exif()
    exif.load(raw)
    return exif


@pytest.fixture(scope="module")
def icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def picture(
    pixels: np.ndarray,
    alpha: np.ndarray | None = None,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
) -> Picture:
    return Picture(pixels, alpha, exif, icc_profile, was_gray=False)


# Round trips ------------------------------------------------------------------------------------

LOSSLESS = [
    (".png", np.uint8),
    (".png", np.uint16),
    (".tif", np.uint8),
    (".tiff", np.uint16),
    (".TIF", np.uint8),
    (".bmp", np.uint8),
    (".webp", np.uint8),
]


@pytest.mark.parametrize(("extension", "dtype"), LOSSLESS)
def test_lossless_formats_round_trip_exactly(tmp_path, extension, dtype):
    pixels = noise((23, 37, 3), dtype)
    path = tmp_path / f"out{extension}"
    write_image(path, picture(pixels), jpeg_quality=100)  # WebP at 100 is lossless
    result = read_image(path)
    assert result.pixels.dtype == dtype and result.bit_depth == np.dtype(dtype).itemsize * 8
    np.testing.assert_array_equal(result.pixels, pixels)
    assert result.alpha is None and not result.was_gray


WITH_ALPHA = [
    (".png", np.uint8),
    (".png", np.uint16),
    (".tif", np.uint8),
    (".tif", np.uint16),
    (".webp", np.uint8),
]


@pytest.mark.parametrize(("extension", "dtype"), WITH_ALPHA)
def test_alpha_round_trips_exactly_with_the_colors_under_it(tmp_path, extension, dtype):
    pixels, alpha = noise((19, 29, 3), dtype, seed=1), noise((19, 29), dtype, seed=2)
    alpha[:5] = 0  # fully transparent rows keep their color too
    path = tmp_path / f"out{extension}"
    write_image(path, picture(pixels, alpha), jpeg_quality=100)
    result = read_image(path)
    np.testing.assert_array_equal(result.pixels, pixels)
    np.testing.assert_array_equal(result.alpha, alpha)
    assert result.alpha.dtype == dtype
    with Image.open(path) as image:  # other readers see alpha, unassociated (not premultiplied)
        assert image.mode == "RGBA"
        if extension == ".tif":
            assert image.tag_v2[338] == (2,)  # ExtraSamples


@pytest.mark.parametrize("extension", [".jpg", ".bmp"])
def test_formats_without_alpha_drop_it(tmp_path, extension):
    path = tmp_path / f"out{extension}"
    write_image(path, picture(gradient(), np.full((48, 64), 7, np.uint8)))
    assert read_image(path).alpha is None


def test_8bit_tiff_alpha_from_other_writers_is_not_premultiplied(tmp_path):
    """Pillow marks TIFF alpha as unassociated; libtiff's RGBA reader would premultiply it."""
    rgba = noise((16, 24, 4), np.uint8, seed=3)
    path = tmp_path / "pillow.tif"
    Image.fromarray(rgba).save(path)
    result = read_image(path)
    np.testing.assert_array_equal(result.pixels, rgba[..., :3])
    np.testing.assert_array_equal(result.alpha, rgba[..., 3])


@pytest.mark.parametrize(
    ("mode", "extension"),
    [("L", ".png"), ("L", ".jpg"), ("L", ".tif"), ("I;16", ".png"), ("LA", ".png")],
)
def test_gray_files_read_as_three_equal_channels(tmp_path, mode, extension):
    dtype = np.uint16 if mode == "I;16" else np.uint8
    stored = noise((17, 21, 2) if mode == "LA" else (17, 21), dtype, seed=4)
    path = tmp_path / f"gray{extension}"
    Image.fromarray(stored, mode if mode == "LA" else None).save(path, quality=100)
    result = read_image(path)
    assert result.was_gray and result.pixels.dtype == dtype and result.pixels.shape == (17, 21, 3)
    assert (result.pixels == result.pixels[..., :1]).all()
    gray = stored[..., 0] if mode == "LA" else stored
    tolerance = 1 if extension == ".jpg" else 0
    assert np.abs(result.pixels[..., 0].astype(int) - gray).max() <= tolerance
    if mode == "LA":
        np.testing.assert_array_equal(result.alpha, stored[..., 1])


def test_jpeg_round_trip_is_close(tmp_path):
    pixels = gradient()
    write_image(tmp_path / "out.jpg", picture(pixels), jpeg_quality=95)
    result = read_image(tmp_path / "out.jpg")
    assert result.pixels.shape == pixels.shape
    assert np.abs(result.pixels.astype(int) - pixels).mean() < 2


@pytest.mark.parametrize("extension", [".jpg", ".webp", ".bmp"])
def test_16bit_pixels_are_rounded_to_8_bits_for_8bit_formats(tmp_path, extension):
    pixels = noise((12, 18, 3), np.uint16, seed=5)
    path = tmp_path / f"out{extension}"
    write_image(path, picture(pixels), jpeg_quality=100)
    expected = np.round(pixels / 257)
    result = read_image(path).pixels
    assert result.dtype == np.uint8
    if extension == ".jpg":
        assert np.abs(result - expected).mean() < 3
    else:
        np.testing.assert_array_equal(result, expected)


def test_bigtiff_reads(tmp_path):
    pixels = noise((10, 16, 3), np.uint16)
    tifffile.imwrite(tmp_path / "big.tif", pixels, bigtiff=True, photometric="rgb")
    np.testing.assert_array_equal(read_image(tmp_path / "big.tif").pixels, pixels)


def test_non_ascii_paths(tmp_path):
    folder = tmp_path / "фото été"
    folder.mkdir()
    pixels = noise((5, 7, 3), np.uint8)
    write_image(folder / "bild-ü.png", picture(pixels))
    np.testing.assert_array_equal(read_image(folder / "bild-ü.png").pixels, pixels)


def test_a_real_photo_keeps_its_shape_and_channel_order(tmp_path):
    photo = skimage_data.astronaut()
    means = photo.reshape(-1, 3).mean(axis=0)
    assert len(set(np.argsort(means))) == 3  # distinct means: a channel swap would show
    # Written by an independent RGB writer, read by us.
    Image.fromarray(photo).save(tmp_path / "pillow.png")
    Image.fromarray(photo).save(tmp_path / "pillow.jpg", quality=95)
    np.testing.assert_array_equal(read_image(tmp_path / "pillow.png").pixels, photo)
    from_jpeg = read_image(tmp_path / "pillow.jpg").pixels
    assert from_jpeg.shape == photo.shape
    np.testing.assert_allclose(from_jpeg.reshape(-1, 3).mean(axis=0), means, atol=1.5)
    # Written by us, read by the independent reader.
    write_image(tmp_path / "ours.png", picture(photo))
    write_image(tmp_path / "ours.jpg", picture(photo))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "ours.png")), photo)
    by_pillow = np.asarray(Image.open(tmp_path / "ours.jpg")).reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(by_pillow, means, atol=1.5)


# Orientation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("extension", [".jpg", ".png", ".webp", ".tif"])
def test_exif_orientation_is_applied_like_pillow(tmp_path, extension, orientation):
    lossy = extension == ".jpg"
    stored = gradient() if lossy else noise((10, 16, 3), np.uint8, seed=orientation)
    path = tmp_path / f"oriented{extension}"
    options = {"quality": 95, "subsampling": 0} if lossy else {"lossless": True}
    Image.fromarray(stored).save(path, exif=exif_bytes(orientation), **options)
    expected = upright_by_pillow(path)
    result = read_image(path)
    assert result.pixels.shape == expected.shape
    if lossy:
        assert np.abs(result.pixels.astype(int) - expected).mean() < 2
    else:
        np.testing.assert_array_equal(result.pixels, expected)
    exif = parse_exif(result.exif)
    assert exif[ORIENTATION] == 1 and exif[MAKE] == "lutcli-test"


@pytest.mark.parametrize("orientation", [1, 6])
@pytest.mark.parametrize(("shrink_to", "reduction"), [(0.5, 2), (0.3, 2), (0.25, 4), (0.1, 8)])
def test_a_jpeg_read_for_a_preview_is_decoded_smaller_and_upright(
    tmp_path, orientation, shrink_to, reduction
):
    stored = gradient(100, 130)  # not a multiple of 8: the decoder rounds the sides up
    path = tmp_path / "photo.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif_bytes(orientation))
    whole = read_image(path)
    preview = read_image(path, shrink_to=shrink_to)
    height, width = whole.pixels.shape[:2]  # upright
    assert preview.full_size == (height, width) and whole.full_size is None
    size = (-(-height // reduction), -(-width // reduction))
    assert preview.pixels.shape == (*size, 3)
    # Each pixel the mean of a block of the whole decode, as stored (the encoder fills the
    # last blocks with copies of the edge), within the codec's rounding.
    turns = 1 if orientation == 6 else 0  # 6: stored turned 90 degrees anticlockwise
    stored_whole = np.rot90(whole.pixels, turns)
    padding = [(0, -n % reduction) for n in stored_whole.shape[:2]] + [(0, 0)]
    blocks = np.pad(stored_whole, padding, mode="edge").astype(float)
    rows, columns = blocks.shape[0] // reduction, blocks.shape[1] // reduction
    means = blocks.reshape(rows, reduction, columns, reduction, 3).mean(axis=(1, 3))
    expected = np.rot90(means, -turns)
    assert np.abs(preview.pixels - expected).mean() < 1.5
    assert parse_exif(preview.exif)[ORIENTATION] == 1


def opencv_decode(path: Path) -> np.ndarray:
    """OpenCV's own decode of a JPEG, as stored, in RGB."""
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    return cv2.cvtColor(cv2.imread(str(path), flags), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("subsampling", [0, 1, 2], ids=["4:4:4", "4:2:2", "4:2:0"])
def test_color_jpegs_decode_to_opencvs_pixels(tmp_path, subsampling):
    # Color JPEGs go through libjpeg-turbo by simplejpeg, faster than OpenCV: the same pixels.
    path = tmp_path / "photo.jpg"
    photo = skimage_data.astronaut()[:301, :403]  # sides not multiples of the blocks
    Image.fromarray(photo).save(path, quality=90, subsampling=subsampling)
    np.testing.assert_array_equal(read_image(path).pixels, opencv_decode(path))


def test_a_color_jpeg_is_decoded_into_an_array_of_its_shape_only(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.fromarray(gradient()).save(path, quality=95)
    expected = read_image(path, "BGR").pixels
    into = np.zeros((48, 64, 3), np.uint8)
    picture = read_image(path, "BGR", into=into)
    assert np.shares_memory(picture.pixels, into)
    np.testing.assert_array_equal(into, expected)
    for other in (np.zeros((64, 48, 3), np.uint8), np.zeros((48, 64, 3), np.uint16)):
        picture = read_image(path, "BGR", into=other)
        assert not np.shares_memory(picture.pixels, other) and not other.any()
        np.testing.assert_array_equal(picture.pixels, expected)
    rgb = read_image(path, "RGB", into=np.zeros((48, 64, 3), np.uint8))  # converted: not into
    np.testing.assert_array_equal(rgb.pixels, expected[:, :, ::-1])


def test_a_jpeg_simplejpeg_declines_is_decoded_by_opencv(tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    Image.fromarray(gradient()).save(path, quality=95)
    calls = []

    def declines(*args, **kwargs):
        calls.append(args)
        raise ValueError("Unsupported JPEG process")

    monkeypatch.setattr(images.simplejpeg, "decode_jpeg", declines)
    np.testing.assert_array_equal(read_image(path).pixels, opencv_decode(path))
    assert len(calls) == 1


def test_a_preview_of_another_format_or_at_full_size_is_read_whole(tmp_path):
    png = tmp_path / "photo.png"
    Image.fromarray(gradient()).save(png)
    assert read_image(png, shrink_to=0.25).pixels.shape == (48, 64, 3)
    assert read_image(png, shrink_to=0.25).full_size is None
    jpeg = tmp_path / "photo.jpg"
    Image.fromarray(gradient()).save(jpeg, quality=95)
    for shrink_to in (0.6, 1.0, 2.0):  # more than half: a reduced decode would be too small
        picture = read_image(jpeg, shrink_to=shrink_to)
        assert picture.pixels.shape == (48, 64, 3) and picture.full_size is None


@pytest.mark.parametrize("orientation", [2, 5, 6, 8])
@pytest.mark.parametrize("extension", [".png", ".tif"])
def test_orientation_turns_alpha_with_the_pixels(tmp_path, extension, orientation):
    rgba = noise((10, 16, 4), np.uint8, seed=6)
    path = tmp_path / f"oriented{extension}"
    Image.fromarray(rgba).save(path, exif=exif_bytes(orientation))
    expected = upright_by_pillow(path)
    result = read_image(path)
    np.testing.assert_array_equal(result.pixels, expected[..., :3])
    np.testing.assert_array_equal(result.alpha, expected[..., 3])


UPRIGHT = {  # stored array -> how it displays, independent of the code under test
    1: lambda a: a,
    2: np.fliplr,
    3: lambda a: np.rot90(a, 2),
    4: np.flipud,
    5: lambda a: a.T,
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).T,
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_tiff_orientation(tmp_path, orientation):
    stored = noise((10, 16), np.uint16, seed=7)
    path = tmp_path / "gray16.tif"
    Image.fromarray(stored).save(path, exif=exif_bytes(orientation))
    result = read_image(path)
    assert result.pixels.dtype == np.uint16 and result.was_gray
    np.testing.assert_array_equal(result.pixels[..., 1], UPRIGHT[orientation](stored))
    assert parse_exif(result.exif)[ORIENTATION] == 1


# Metadata ---------------------------------------------------------------------------------------


WITH_METADATA = [
    (".jpg", np.uint8),
    (".png", np.uint8),
    (".webp", np.uint8),
    (".tif", np.uint8),
    (".png", np.uint16),
    (".tif", np.uint16),
]


@pytest.mark.parametrize(("extension", "dtype"), WITH_METADATA)
def test_exif_and_icc_profile_survive_read_write_read(tmp_path, icc_profile, extension, dtype):
    source = tmp_path / "camera.jpg"
    Image.fromarray(gradient()).save(source, exif=exif_bytes(), icc_profile=icc_profile)
    original = read_image(source)
    assert original.icc_profile == icc_profile
    assert parse_exif(original.exif)[MAKE] == "lutcli-test"
    if dtype == np.uint16:
        original.pixels = original.pixels.astype(np.uint16) * 257
    path = tmp_path / f"edited{extension}"
    write_image(path, original)

    result = read_image(path)
    assert result.pixels.dtype == dtype
    assert result.icc_profile == icc_profile
    exif = parse_exif(result.exif)
    assert exif[MAKE] == "lutcli-test"
    assert exif.get_ifd(EXIF_IFD)[DATE_TIME_ORIGINAL] == "2024:05:06 07:08:09"
    with Image.open(path) as image:  # an independent reader finds them too
        assert image.info["icc_profile"] == icc_profile
        assert image.getexif()[MAKE] == "lutcli-test"


def test_a_jpeg_icc_profile_larger_than_a_segment_is_split_and_read_back_whole(
    tmp_path, icc_profile
):
    # An RGB profile's header, then 3 APP2 chunks' worth (at most 65,519 bytes each).
    profile = icc_profile[:20] + np.random.default_rng(0).bytes(150_000)
    write_image(tmp_path / "wide.jpg", picture(gradient(), exif=exif_bytes(), icc_profile=profile))
    assert read_image(tmp_path / "wide.jpg").icc_profile == profile
    with Image.open(tmp_path / "wide.jpg") as image:  # Pillow joins the chunks in order
        assert image.info["icc_profile"] == profile
        assert image.getexif()[MAKE] == "lutcli-test"


def test_jpeg_quality_and_4_4_4_sampling_are_kept(tmp_path):
    for quality in (30, 95):
        write_image(tmp_path / f"q{quality}.jpg", picture(gradient()), jpeg_quality=quality)
    with Image.open(tmp_path / "q95.jpg") as image:
        assert JpegImagePlugin.get_sampling(image) == 0  # 4:4:4, no chroma subsampling
    assert (tmp_path / "q30.jpg").stat().st_size < (tmp_path / "q95.jpg").stat().st_size


def test_bmp_has_no_metadata(tmp_path, icc_profile):
    tagged = picture(gradient(), exif=exif_bytes(), icc_profile=icc_profile)
    write_image(tmp_path / "out.bmp", tagged)
    result = read_image(tmp_path / "out.bmp")
    assert result.exif is None and result.icc_profile is None


def test_files_without_metadata_read_as_none(tmp_path):
    Image.fromarray(gradient()).save(tmp_path / "plain.jpg")
    result = read_image(tmp_path / "plain.jpg")
    assert result.exif is None and result.icc_profile is None


def test_corrupt_exif_does_not_stop_a_read_or_print_warnings(tmp_path, capfd):
    buffer = io.BytesIO()
    Image.fromarray(gradient()).save(buffer, "JPEG")
    payload = b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff" + bytes(range(40))
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    path = tmp_path / "odd.jpg"
    path.write_bytes(buffer.getvalue()[:2] + segment + buffer.getvalue()[2:])
    with pytest.warns(UserWarning, match="Corrupt EXIF"), Image.open(path) as image:
        image.getexif()  # Pillow itself warns about this block
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = read_image(path)
    assert result.pixels.shape == (48, 64, 3)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("extension", [".jpg", ".tif", ".webp"])
def test_exif_that_pillow_cannot_parse_is_dropped_with_a_note(tmp_path, monkeypatch, extension):
    """The photo is still processed, but the user is told what was lost."""
    path = tmp_path / f"a{extension}"
    Image.fromarray(gradient()).save(path, exif=exif_bytes(orientation=6))

    def broken(*args, **kwargs):
        raise SyntaxError("cannot parse")

    monkeypatch.setattr(Image.Exif, "load", broken)
    monkeypatch.setattr(Image.Exif, "load_from_fp", broken)
    result = read_image(path)
    assert result.exif is None
    if extension != ".tif":  # the TIFF decoders turn it upright from its own tag
        assert result.pixels.shape == (48, 64, 3)  # stored orientation
    [note] = result.notes
    assert "EXIF" in note and "cannot parse" in note and "orientation" in note


def test_a_file_whose_header_pillow_cannot_parse_is_refused(tmp_path):
    """The header gives the size that the pixel limit is checked on before decoding."""
    data = bytearray(png_bytes())
    data[16:24] = bytes(8)  # a PNG of 0 x 0 pixels
    (tmp_path / "zero.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="zero.png"):
        read_image(tmp_path / "zero.png")


# Errors -----------------------------------------------------------------------------------------


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(noise((64, 64, 3), np.uint8)).save(buffer, "JPEG", exif=exif_bytes())
    return buffer.getvalue()


def with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """A JPEG with a comment segment right after its start marker."""
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return jpeg[:2] + segment + jpeg[2:]


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(noise((64, 64, 3), np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def float_tiff_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)).save(buffer, "TIFF")
    return buffer.getvalue()


BAD_FILES = {
    "empty.jpg": (lambda: b"", "empty"),
    "random.jpg": (lambda: np.random.default_rng(0).bytes(5000), "corrupt"),
    "truncated.jpg": (lambda: jpeg_bytes()[: len(jpeg_bytes()) // 2], "corrupt"),
    "cut-in-header.jpg": (lambda: jpeg_bytes()[:40], "corrupt"),
    "no-end-marker.jpg": (lambda: jpeg_bytes()[:-2], "corrupt"),
    "end-marker-in-comment.jpg": (
        lambda: with_comment(jpeg_bytes(), b"\xff\xd9")[: len(jpeg_bytes()) // 2],
        "corrupt",
    ),
    "truncated.png": (lambda: png_bytes()[: len(png_bytes()) // 2], "corrupt"),
    "no-iend.png": (lambda: png_bytes()[:-12], "corrupt"),
    "float.tif": (float_tiff_bytes, "float32 samples are not supported"),
    "picture.gif": (png_bytes, "unsupported file type"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_unreadable_files_raise_one_line_naming_the_file(tmp_path, capfd, name):
    make, reason = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message.startswith(f"cannot read '{path}': ") and reason in message
    assert "\n" not in message
    assert capfd.readouterr().err == ""  # nothing from OpenCV, libpng or Pillow


TRUNCATED = [
    "truncated.jpg",
    "no-end-marker.jpg",
    "end-marker-in-comment.jpg",
    "truncated.png",
    "no-iend.png",
]


@pytest.mark.parametrize("name", TRUNCATED)
def test_truncated_files_are_refused_before_decoding(tmp_path, monkeypatch, name):
    """OpenCV 4 decodes half a JPEG with only a warning, so the file's structure is checked."""
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name][0]())
    monkeypatch.setattr(cv2, "imdecode", lambda *args: pytest.fail("the decoder was called"))
    with pytest.raises(ImageReadError):
        read_image(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageReadError, match="missing.jpg': no such file"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ImageReadError, match="folder.png': is a folder"):
        read_image(tmp_path / "folder.png")


def test_jpeg_with_data_after_its_end_marker_reads(tmp_path):
    """Some cameras append data after the image; only a missing end is refused."""
    path = tmp_path / "trailer.jpg"
    path.write_bytes(with_comment(jpeg_bytes(), b"\xff\xd9") + b"\0" * 100)
    assert read_image(path).pixels.shape == (64, 64, 3)


def test_content_decides_the_format_not_the_extension(tmp_path):
    (tmp_path / "really-a-png.jpg").write_bytes(png_bytes())
    assert read_image(tmp_path / "really-a-png.jpg").pixels.shape == (64, 64, 3)


def test_supported_extensions():
    assert SUPPORTED_EXTENSIONS == {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}


# Atomic writes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".gif", ""])
def test_unsupported_output_extension(tmp_path, extension):
    with pytest.raises(LutcliError, match="cannot write .*(unsupported file type|no file ext)"):
        write_image(tmp_path / f"out{extension}", picture(gradient()))
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder_is_a_lutcli_error(tmp_path):
    with pytest.raises(LutcliError, match="cannot write"):
        write_image(tmp_path / "no" / "such" / "out.png", picture(gradient()))


def test_write_goes_through_a_hidden_temporary_file(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(source, target):
        seen.append((Path(source).name, Path(source).parent, sorted(os.listdir(tmp_path))))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    write_image(tmp_path / "out.png", picture(gradient()))
    [(name, folder, listing)] = seen
    assert name.startswith(".") and "lutcli-tmp" in name and folder == tmp_path
    assert listing == [name]  # nothing at the final name before the rename
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


@pytest.mark.parametrize("interrupted", ["fsync", "replace"])
@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch, interrupted, existing):
    target = tmp_path / "out.jpg"
    if existing:
        target.write_bytes(b"the previous version")

    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, interrupted, interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_image(target, picture(gradient()))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == (["out.jpg"] if existing else [])
    if existing:
        assert target.read_bytes() == b"the previous version"


def test_interrupted_encoding_writes_nothing(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_image(tmp_path / "out.webp", picture(gradient()))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("extension", [".png", ".jpg", ".webp", ".tif"])
def test_bgr_pictures_read_and_write_as_rgb_ones_do(tmp_path, extension):
    source = tmp_path / f"in{extension}"
    write_image(source, picture(gradient()), jpeg_quality=100)
    rgb, bgr = read_image(source), read_image(source, "BGR")
    assert bgr.channel_order == "BGR"
    np.testing.assert_array_equal(bgr.pixels, rgb.pixels[..., ::-1])
    write_image(tmp_path / f"rgb{extension}", rgb)
    write_image(tmp_path / f"bgr{extension}", bgr)
    assert (tmp_path / f"rgb{extension}").read_bytes() == (
        tmp_path / f"bgr{extension}"
    ).read_bytes()


def test_an_unknown_channel_order_is_refused(tmp_path):
    write_image(tmp_path / "in.png", picture(gradient()))
    with pytest.raises(ValueError, match="channel_order"):
        read_image(tmp_path / "in.png", "GBR")


# The pixel limit: checked from the header, before decoding ---------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes whose header says ``width`` x ``height`` (RGB, 8-bit)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(bytes(1 + 3 * 16) * 4)  # a few rows; never decoded
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def test_a_small_file_claiming_a_huge_picture_is_refused_before_decoding(tmp_path, monkeypatch):
    """QA: a 1.8 MB PNG of 30000 x 20000 took 4-9 GB; the header alone now refuses it."""
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(30000, 20000))
    assert path.stat().st_size < 1000
    monkeypatch.setattr(cv2, "imdecode", lambda *args: pytest.fail("the decoder was called"))
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message.startswith(f"cannot read '{path}': 30000x20000 is 600.0 MP")
    assert "limit of 179.0 MP" in message and "--max-pixels" in message
    assert MAX_PIXELS_VARIABLE in message


def test_the_default_limit_is_pillows_decompression_bomb_error_threshold():
    assert DEFAULT_MAX_PIXELS == 2 * Image.MAX_IMAGE_PIXELS == 178_956_970


def webp_bytes(**options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gradient(48, 64)).save(buffer, "WEBP", **options)
    return buffer.getvalue()


def encoded(extension: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(gradient(48, 64)).save(buffer, Image.registered_extensions()[extension])
    return buffer.getvalue()


HEADERS = {
    "a.jpg": lambda: encoded(".jpg"),
    "a.png": lambda: encoded(".png"),
    "a.tif": lambda: encoded(".tif"),
    "a.bmp": lambda: encoded(".bmp"),
    "lossy.webp": lambda: webp_bytes(quality=80),
    "lossless.webp": lambda: webp_bytes(lossless=True),
    "extended.webp": lambda: webp_bytes(exif=exif_bytes()),
}


@pytest.mark.parametrize("name", HEADERS)
def test_every_format_is_measured_from_its_header(tmp_path, monkeypatch, name):
    path = tmp_path / name
    path.write_bytes(HEADERS[name]())
    assert read_image(path, max_pixels=64 * 48).pixels.shape == (48, 64, 3)
    monkeypatch.setattr(cv2, "imdecode", lambda *args: pytest.fail("the decoder was called"))
    with pytest.raises(ImageReadError, match="64x48 is 0.0 MP, over the limit"):
        read_image(path, max_pixels=64 * 48 - 1)


def test_the_limit_can_be_raised_or_lowered_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    path.write_bytes(encoded(".png"))
    monkeypatch.setenv(MAX_PIXELS_VARIABLE, "3000")
    with pytest.raises(ImageReadError, match="over the limit of 0.0 MP"):
        read_image(path)
    monkeypatch.setenv(MAX_PIXELS_VARIABLE, "3_072")
    assert read_image(path).pixels.shape == (48, 64, 3)


@pytest.mark.parametrize("value", ["many", "0", "-5", "1.5e8"])
def test_a_limit_that_is_not_a_number_of_pixels_is_one_line(tmp_path, monkeypatch, value):
    path = tmp_path / "a.png"
    path.write_bytes(encoded(".png"))
    monkeypatch.setenv(MAX_PIXELS_VARIABLE, value)
    with pytest.raises(
        LutcliError, match=f"{MAX_PIXELS_VARIABLE}='{value}' is not a whole number above 0"
    ):
        read_image(path)


def test_a_file_far_larger_than_its_pixels_can_be_is_refused(tmp_path, monkeypatch):
    """Bytes after a JPEG's end are allowed, but not gigabytes of them: the size is checked
    before the file is read."""
    import lutcli.io.images

    monkeypatch.setattr(lutcli.io.images, "_MAX_METADATA_BYTES", 1000)
    path = tmp_path / "padded.jpg"
    path.write_bytes(encoded(".jpg") + bytes(64 * 48 * 16))
    with pytest.raises(ImageReadError, match="more than a photo within the pixel limit"):
        read_image(path, max_pixels=64 * 48)


# Pages, colour spaces and what reading leaves out -------------------------------------------------


def test_a_multi_page_tiff_says_that_only_its_first_page_is_processed(tmp_path):
    pages = [noise((12, 16, 3), np.uint8, seed=seed) for seed in range(3)]
    tifffile.imwrite(tmp_path / "pages.tif", np.stack(pages), photometric="rgb")
    result = read_image(tmp_path / "pages.tif")
    np.testing.assert_array_equal(result.pixels, pages[0])
    assert result.notes == ["only the first of its 3 pages is processed"]
    assert read_image(tmp_path / "pages.tif").notes  # every time it is read


def test_a_one_page_file_has_no_notes(tmp_path, icc_profile):
    write_image(tmp_path / "a.tif", picture(gradient(), exif=exif_bytes(), icc_profile=icc_profile))
    assert read_image(tmp_path / "a.tif").notes == []


def s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


D50 = s15(0.9642) + s15(1.0) + s15(0.8249)


def icc_profile_of(space: bytes, device: bytes, tags: dict[bytes, bytes], pcs: bytes) -> bytes:
    """A minimal ICC v2 profile (header, tag table, tags) that LittleCMS accepts."""
    text = b"lutcli test\0"
    tags = {
        b"desc": b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + bytes(78),
        b"wtpt": b"XYZ \0\0\0\0" + D50,
        b"cprt": b"text\0\0\0\0none\0",
        **tags,
    }
    start = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for signature, payload in tags.items():
        payload += bytes(-len(payload) % 4)
        table += signature + struct.pack(">II", start + len(data), len(payload))
        data += payload
    header = struct.pack(">I4sI", start + len(data), bytes(4), 0x02100000) + device + space + pcs
    header += bytes(12) + b"acsp" + bytes(28) + D50
    return header + bytes(128 - len(header)) + struct.pack(">I", len(tags)) + table + data


def gray_profile(gamma: float = 1.8) -> bytes:
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))
    return icc_profile_of(b"GRAY", b"mntr", {b"kTRC": curve}, b"XYZ ")


def cmyk_profile() -> bytes:
    """A printer profile: ink coverage to Lab through a 2-point table per ink."""
    inks = np.array(np.meshgrid(*[[0, 1]] * 4, indexing="ij")).reshape(4, -1).T.astype(float)
    rgb = (1 - inks[:, :3]) * (1 - inks[:, 3:]) * 0.9 + 0.05  # paper is not quite white
    lab = skimage_color.rgb2lab(rgb[None], illuminant="D50")[0]
    table = np.round(np.stack([lab[:, 0] * 2.55, lab[:, 1] + 128, lab[:, 2] + 128], 1))
    ramp = bytes(range(256))
    lut = b"mft1\0\0\0\0" + bytes([4, 3, 2, 0]) + b"".join(s15(v) for v in np.eye(3).flat)
    lut += ramp * 4 + table.astype(np.uint8).tobytes() + ramp * 3
    return icc_profile_of(b"CMYK", b"prtr", {b"A2B0": lut}, b"Lab ")


def srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def color_space(profile: bytes | None) -> bytes | None:
    return None if profile is None else profile[16:20]


def cmyk_pixels() -> np.ndarray:
    return noise((10, 14, 4), np.uint8, seed=9)


@pytest.mark.parametrize("extension", [".jpg", ".tif"])
def test_cmyk_is_converted_to_srgb_through_its_profile(tmp_path, extension):
    """QA: CMYK came out RGB but kept its CMYK profile; viewers then cannot show it."""
    profile = cmyk_profile()
    path = tmp_path / f"print{extension}"
    Image.fromarray(cmyk_pixels(), "CMYK").save(path, icc_profile=profile, quality=100)
    with Image.open(path) as image:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        expected = np.asarray(ImageCms.profileToProfile(image, source, srgb(), outputMode="RGB"))
        plain = np.asarray(image.convert("RGB"))
    result = read_image(path)
    np.testing.assert_array_equal(result.pixels, expected)
    assert np.abs(expected.astype(int) - plain).max() > 20  # the profile does matter
    assert result.alpha is None
    assert color_space(result.icc_profile) == b"RGB " and result.notes == []
    write_image(tmp_path / f"out{extension}", result, jpeg_quality=100)
    with Image.open(tmp_path / f"out{extension}") as written:
        assert written.mode == "RGB" and color_space(written.info["icc_profile"]) == b"RGB "


def test_cmyk_without_a_profile_is_converted_plainly_with_a_note(tmp_path):
    path = tmp_path / "print.jpg"
    Image.fromarray(cmyk_pixels(), "CMYK").save(path, quality=100)
    result = read_image(path, "BGR")
    with Image.open(path) as image:
        np.testing.assert_array_equal(result.pixels[..., ::-1], np.asarray(image.convert("RGB")))
    assert result.icc_profile is None
    assert result.notes == ["CMYK without an ICC profile: colours converted by a plain formula"]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gray_with_a_gray_profile_is_converted_to_srgb(tmp_path, dtype):
    """QA: gray came out RGB with its GRAY profile (libpng warned, LittleCMS failed)."""
    profile = gray_profile(gamma=1.8)
    levels = np.arange(256, dtype=np.uint8)
    gray = (
        np.tile(levels, (4, 1)) if dtype == np.uint8 else np.tile(levels * np.uint16(257), (4, 1))
    )
    path = tmp_path / "gray.png"
    Image.fromarray(gray).save(path, icc_profile=profile)
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    table = ImageCms.profileToProfile(
        Image.fromarray(levels[None]), source, srgb(), outputMode="RGB"
    )
    expected = np.asarray(table)[0]
    result = read_image(path)
    scale = 1 if dtype == np.uint8 else 257
    np.testing.assert_array_equal(result.pixels[0], expected.astype(dtype) * scale)
    assert expected[64, 0] > 64 + 10  # gamma 1.8 shows darker than sRGB: it is lifted
    assert result.was_gray and color_space(result.icc_profile) == b"RGB " and result.notes == []
    write_image(tmp_path / "out.png", result)
    with Image.open(tmp_path / "out.png") as written:
        assert color_space(written.info["icc_profile"]) == b"RGB "


@pytest.mark.parametrize(("mode", "extension"), [("L", ".png"), ("CMYK", ".jpg")])
def test_a_photo_whose_profile_is_unreadable_reads_with_a_note(tmp_path, mode, extension):
    """A gray or CMYK photo with a damaged profile once failed with Pillow's bare OSError."""
    path = tmp_path / f"damaged{extension}"
    damaged = gray_profile()[:128] if mode == "L" else cmyk_profile()[:128]  # header only
    Image.new(mode, (8, 8)).save(path, icc_profile=damaged)
    result = read_image(path)
    assert result.icc_profile is None and len(result.notes) == 1
    assert "profile cannot be used" in result.notes[0]


def test_a_profile_that_contradicts_the_pixels_is_left_out_with_a_note(tmp_path):
    path = tmp_path / "odd.png"
    Image.fromarray(gradient()).save(path, icc_profile=cmyk_profile())  # RGB pixels
    result = read_image(path)
    assert result.icc_profile is None
    assert result.notes == ["its ICC profile is for CMYK pixels, not RGB: left out"]


@pytest.mark.parametrize("extension", [".png", ".jpg", ".tif", ".webp"])
def test_a_profile_not_for_rgb_is_never_written(tmp_path, extension):
    path = tmp_path / f"out{extension}"
    write_image(path, picture(gradient(), icc_profile=gray_profile()))
    with Image.open(path) as image:
        assert "icc_profile" not in image.info


def test_importing_leaves_opencvs_log_level_alone(monkeypatch):
    """A library must not change its host's global state. The module's code is run again as a
    module of another name, so that the module the other tests use stays as it is."""
    import importlib.util
    import sys

    import lutcli.io.images

    logging = cv2.utils.logging
    previous = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_INFO)
    try:
        spec = importlib.util.spec_from_file_location("images_again", lutcli.io.images.__file__)
        again = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, "images_again", again)
        spec.loader.exec_module(again)
        assert logging.getLogLevel() == logging.LOG_LEVEL_INFO
    finally:
        logging.setLogLevel(previous)


def test_without_replace_an_existing_file_is_kept(tmp_path):
    path = tmp_path / "out.png"
    path.write_bytes(b"another run's")
    with pytest.raises(DestinationExistsError):
        write_image(path, picture(gradient()), replace=False)
    assert path.read_bytes() == b"another run's"
    assert os.listdir(tmp_path) == ["out.png"]


# Images that are data (Hald CLUTs) ---------------------------------------------------------------


def test_read_pixels_gives_the_stored_pixels_whatever_the_tags_and_the_name(tmp_path):
    stored = noise((10, 16, 3), np.uint8, seed=3)
    path = tmp_path / "table.cube"  # named otherwise than an image: read by content
    Image.fromarray(stored).save(path, format="PNG", exif=exif_bytes(6))
    np.testing.assert_array_equal(read_pixels(path), stored)  # not turned upright
    assert read_image(path.rename(tmp_path / "table.png")).pixels.shape == (16, 10, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_read_pixels_keeps_gray_values_whatever_their_profile(tmp_path, dtype):
    levels = np.arange(256, dtype=np.uint16) * (257 if dtype == np.uint16 else 1)
    gray = np.tile(levels.astype(dtype), (4, 1))
    path = tmp_path / "gray.png"
    Image.fromarray(gray).save(path, icc_profile=gray_profile(gamma=1.8))
    pixels = read_pixels(path)
    assert pixels.dtype == dtype and pixels.shape == (4, 256, 3)
    np.testing.assert_array_equal(pixels, np.repeat(gray[..., None], 3, axis=2))


def test_read_pixels_gives_alpha_and_refuses_what_read_image_refuses(tmp_path):
    rgba = noise((6, 8, 4), np.uint8, seed=4)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read_pixels(tmp_path / "rgba.png"), rgba)
    gray_alpha = noise((6, 8, 2), np.uint8, seed=5)
    Image.fromarray(gray_alpha, "LA").save(tmp_path / "la.png")
    pixels = read_pixels(tmp_path / "la.png")
    np.testing.assert_array_equal(pixels[..., :3], np.repeat(gray_alpha[..., :1], 3, axis=2))
    np.testing.assert_array_equal(pixels[..., 3], gray_alpha[..., 1])
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ImageReadError, match="bad.png"):
        read_pixels(tmp_path / "bad.png")
    with pytest.raises(ImageReadError, match="over the limit"):
        read_pixels(tmp_path / "rgba.png", max_pixels=47)
