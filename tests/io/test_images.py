"""Reading and writing photos: exact round trips, orientation, metadata, errors, atomic writes."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageCms, ImageOps, JpegImagePlugin
from skimage import data as skimage_data

from lutcli.errors import ImageReadError, LutcliError
from lutcli.io.images import (
    SUPPORTED_EXTENSIONS,
    Picture,
    from_tensor,
    read_image,
    to_tensor,
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
    tifffile = pytest.importorskip("tifffile")
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


def test_a_jpeg_icc_profile_larger_than_a_segment_is_split_and_read_back_whole(tmp_path):
    profile = np.random.default_rng(0).bytes(150_000)  # 3 APP2 chunks of at most 65,519 bytes
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


def test_metadata_that_pillow_cannot_parse_is_dropped(tmp_path, monkeypatch):
    Image.fromarray(gradient()).save(tmp_path / "a.jpg", exif=exif_bytes(orientation=6))

    def broken(*args, **kwargs):
        raise OSError("cannot parse")

    monkeypatch.setattr(Image, "open", broken)
    result = read_image(tmp_path / "a.jpg")
    assert result.exif is None and result.pixels.shape == (48, 64, 3)  # stored orientation


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


# Tensors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_tensor_round_trip_is_exact_for_every_value(dtype, device):
    values = np.arange(np.iinfo(dtype).max + 1, dtype=np.int64).astype(dtype)
    pixels = np.stack([values, values[::-1], np.roll(values, 7)], axis=-1).reshape(-1, 256, 3)
    tensor = to_tensor(pixels)
    assert tensor.dtype == torch.float32 and tensor.shape == (1, 3, *pixels.shape[:2])
    scaled = pixels.transpose(2, 0, 1)[None] / np.iinfo(dtype).max
    torch.testing.assert_close(tensor, torch.from_numpy(scaled).float(), rtol=0, atol=1e-7)
    result = from_tensor(tensor.to(device), dtype)
    assert result.dtype == dtype and result.flags.c_contiguous
    np.testing.assert_array_equal(result, pixels)
    np.testing.assert_array_equal(from_tensor(tensor[0], dtype), pixels)  # (3, H, W) too


@pytest.mark.parametrize(("dtype", "top"), [(np.uint8, 255), (np.uint16, 65535)])
def test_from_tensor_clamps_and_rounds_to_nearest(dtype, top, device):
    levels = torch.tensor([-0.1, 1.2, 10.4 / top, 10.6 / top, 0.0, 1.0], device=device)
    image = levels.view(1, 1, 1, -1).expand(1, 3, 1, -1)
    result = from_tensor(image, dtype)
    np.testing.assert_array_equal(result[0, :, 0], [0, top, 10, 11, 0, top])
    assert result.shape == (1, 6, 3)


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
