"""Hald CLUT images: the layout ffmpeg's haldclutsrc makes, round trips at 8 and 16 bits in PNG
and TIFF, gray and RGBA images, one-line errors for other sizes, choosing the format by content
and by name, and ffmpeg's haldclut filter applying what write_hald makes as lutcli does."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage import data as skimage_data

from lutcli.errors import LutcliError, LutFormatError
from lutcli.io.images import Picture, read_image, write_image
from lutcli.lut.formats import FORMATS, detect_format, read_lut, write_lut
from lutcli.lut.formats.hald import hald_level, recognises, write_hald
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence, bake


def identity(points: int) -> Lut3D:
    return Lut3D(identity_lut(points).numpy())


def smooth_lut(points: int, seed: int = 0) -> Lut3D:
    """A look-like table: identity bent by a few random low-frequency waves, within 0..1."""
    rng = np.random.default_rng(seed)
    lattice = identity_lut(points).numpy().astype(np.float64)
    table = lattice.copy()
    for channel in range(3):
        for _ in range(3):
            weights, phase = rng.uniform(-3, 3, 3), rng.uniform(0, 2 * np.pi)
            wave = np.sin(np.tensordot(weights, lattice, axes=1) + phase)
            table[channel] += rng.uniform(0.02, 0.06) * wave
    return Lut3D(table.clip(0, 1))


def hald_pixels(level: int, top: int) -> np.ndarray:
    """The identity Hald image of ``level``, (L³, L³, 3): pixel i (row by row) holds the lattice
    point r + g L² + b L⁴, each coordinate k as round(k * top / (L² - 1))."""
    points, side = level**2, level**3
    index = np.arange(side * side)
    coordinates = np.stack([index % points, index // points % points, index // points**2], 1)
    return np.rint(coordinates * top / (points - 1)).reshape(side, side, 3)


def ffmpeg_identity(level: int) -> np.ndarray:
    """ffmpeg's identity Hald image of ``level``, 8-bit RGB (raw, which is quicker than PNG)."""
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"haldclutsrc=level={level}"]
        + ["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(level**3, level**3, 3)


def ffmpeg_haldclut(photo: Path, hald: Path, interp: str, pixel_format: str) -> np.ndarray:
    """``photo`` through the Hald image ``hald`` by ffmpeg's haldclut filter."""
    output = photo.with_name(f"ffmpeg-{interp}-{pixel_format}.png")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(photo), "-i", str(hald), "-filter_complex"]
        + [f"[0][1]haldclut=interp={interp}", "-pix_fmt", pixel_format]
        + ["-frames:v", "1", str(output)],
        check=True,
    )
    return read_image(output).pixels


def picture(pixels: np.ndarray, alpha: np.ndarray | None = None) -> Picture:
    return Picture(pixels=pixels, alpha=alpha, exif=None, icc_profile=None, was_gray=False)


# The layout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [2, 4])
def test_an_identity_hald_image_is_ffmpegs_haldclutsrc_pixel_for_pixel(tmp_path, level):
    write_hald(LutFile(identity(level**2)), tmp_path / "identity.png", bits=8)
    written = read_image(tmp_path / "identity.png").pixels
    assert written.shape == (level**3, level**3, 3)
    np.testing.assert_array_equal(written, ffmpeg_identity(level))
    np.testing.assert_array_equal(written, hald_pixels(level, 255))


@pytest.mark.parametrize("level", [6, 8])
def test_identity_is_exact_where_ffmpegs_haldclutsrc_is_one_level_low(tmp_path, level):
    # 255 / (L² - 1) is no integer here: haldclutsrc truncates a float product (white is 254
    # at level 8); lutcli rounds, so its identity maps every 8-bit color to itself.
    write_hald(LutFile(identity(level**2)), tmp_path / "identity.png", bits=8)
    written = read_image(tmp_path / "identity.png").pixels.astype(int)
    np.testing.assert_array_equal(written, hald_pixels(level, 255))
    assert np.abs(written - ffmpeg_identity(level)).max() == 1


def test_level_16_is_a_4096_square_read_as_a_256_point_table(tmp_path):
    path = tmp_path / "level16.png"
    write_hald(LutFile(identity(256)), path, bits=8)
    np.testing.assert_array_equal(read_image(path).pixels, ffmpeg_identity(16))
    lut = read_lut(path).lut
    assert lut.size == 256
    assert np.abs(lut.table - identity_lut(256).numpy()).max() < 1e-6


def test_16_bit_png_holds_the_table_in_hald_order(tmp_path):
    # ffmpeg, a decoder independent of lutcli's, sees the layout of hald_pixels.
    write_hald(LutFile(identity(9)), tmp_path / "identity.png")
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(tmp_path / "identity.png")]
        + ["-f", "rawvideo", "-pix_fmt", "rgb48le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    decoded = np.frombuffer(raw, "<u2").reshape(27, 27, 3)
    np.testing.assert_array_equal(decoded, hald_pixels(3, 65535))


# Round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("level", [2, 5, 8])
def test_identity_round_trips_within_half_a_step(tmp_path, extension, bits, level):
    path = tmp_path / f"identity{extension}"
    write_hald(LutFile(identity(level**2)), path, bits=bits)
    assert read_image(path).bit_depth == bits
    lut_file = read_lut(path)
    assert lut_file.format == "hald" and lut_file.notes == []
    assert isinstance(lut_file.lut, Lut3D) and lut_file.lut.has_default_domain
    error = np.abs(lut_file.lut.table - identity_lut(level**2).numpy()).max()
    assert error <= 0.5 / (2**bits - 1) + 1e-7


def test_a_look_round_trips_in_16_bits_within_half_a_16_bit_step(tmp_path):
    lut = smooth_lut(64)
    write_lut(lut, tmp_path / "look.png")
    assert read_image(tmp_path / "look.png").pixels.shape == (512, 512, 3)  # level 8
    assert np.abs(read_lut(tmp_path / "look.png").lut.table - lut.table).max() <= 0.5 / 65535 + 1e-7


@pytest.mark.parametrize("bits", [8, 16])
def test_a_gray_hald_image_gives_the_same_value_on_all_three_channels(tmp_path, bits):
    # A black-and-white look: every color to its luma, saved as gray by Pillow and tifffile.
    red, green, blue = identity_lut(16).numpy().astype(np.float64)
    luma = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    top = 2**bits - 1
    gray = np.rint(luma * top).astype(np.uint16 if bits == 16 else np.uint8).reshape(64, 64)
    Image.fromarray(gray).save(tmp_path / "bw.png")
    tifffile.imwrite(tmp_path / "bw.tif", gray, photometric="minisblack")
    for name in ("bw.png", "bw.tif"):
        table = read_lut(tmp_path / name).lut.table
        for channel in table:
            assert np.abs(channel - luma).max() <= 0.5 / top + 1e-7


def test_alpha_is_ignored_with_a_note(tmp_path):
    pixels = hald_pixels(2, 255).astype(np.uint8)
    alpha = np.full(pixels.shape[:2], 128, np.uint8)
    write_image(tmp_path / "rgba.png", picture(pixels, alpha))
    lut_file = read_lut(tmp_path / "rgba.png")
    assert np.abs(lut_file.lut.table - identity_lut(4).numpy()).max() < 1e-6
    assert lut_file.notes == [f"{tmp_path / 'rgba.png'}: its alpha channel is ignored"]


# What is written --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "level"), [(2, 2), (4, 2), (5, 3), (17, 5), (33, 6), (64, 8), (65, 9), (257, 16)]
)
def test_the_level_is_the_smallest_holding_the_table(size, level):
    assert hald_level(Lut3D(np.zeros((3, size, size, size)))) == level


def test_curves_are_written_at_level_8_and_a_shaper_by_its_3d_table():
    curve = Lut1D(np.linspace(0, 1, 1024)[:, None].repeat(3, 1) ** 0.5)
    assert hald_level(curve) == 8
    assert hald_level(LutSequence([curve, identity(33)])) == 6


def test_other_luts_are_resampled_on_the_levels_lattice(tmp_path):
    # A gamma curve before a 17-point look: written at level 5 (25 points), it is the LUT
    # itself sampled on that lattice.
    curve = Lut1D(np.linspace(0, 1, 256)[:, None].repeat(3, 1) ** (1 / 2.2))
    lut = LutSequence([curve, smooth_lut(17)])
    write_hald(LutFile(lut), tmp_path / "look.png")
    table = read_lut(tmp_path / "look.png").lut.table
    assert table.shape == (3, 25, 25, 25)
    assert np.abs(table - bake(lut, 25).table).max() <= 0.5 / 65535 + 1e-7


def test_an_explicit_level_and_8_bits(tmp_path):
    write_hald(LutFile(smooth_lut(33)), tmp_path / "look.png", level=4, bits=8)
    written = read_image(tmp_path / "look.png")
    assert written.pixels.shape == (64, 64, 3) and written.bit_depth == 8


def test_values_beyond_0_1_are_clipped(tmp_path):
    table = identity_lut(4).numpy() * 1.6 - 0.3
    write_hald(LutFile(Lut3D(table)), tmp_path / "wide.png")
    read = read_lut(tmp_path / "wide.png").lut.table
    np.testing.assert_allclose(read, table.clip(0, 1), atol=0.5 / 65535)


def test_write_lut_picks_hald_by_extension(tmp_path):
    assert write_lut(identity(16), tmp_path / "look.png") is FORMATS["hald"]
    assert write_lut(identity(16), tmp_path / "look.TIFF") is FORMATS["hald"]
    assert read_image(tmp_path / "look.png").bit_depth == 16  # 16 bits unless asked
    assert read_image(tmp_path / "look.TIFF").pixels.shape == (64, 64, 3)


@pytest.mark.parametrize(
    ("lut", "kwargs", "message"),
    [
        (Lut3D(np.zeros((3, 4, 4, 4)), 0, 2), {}, "input domain is [0.0, 0.0, 0.0]..[2.0"),
        (Lut3D(np.full((3, 4, 4, 4), np.nan)), {}, "non-finite"),
        (identity(4), {"level": 17}, "level must be an integer in 2..16, got 17"),
        (identity(4), {"level": 1}, "level must be an integer in 2..16, got 1"),
        (identity(4), {"bits": 12}, "8 or 16 bits per channel, not 12"),
    ],
)
def test_what_a_hald_image_cannot_hold_is_a_value_error(tmp_path, lut, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(".", r"\.")):
        write_hald(LutFile(lut), tmp_path / "x.png", **kwargs)
    assert not (tmp_path / "x.png").exists()


def test_write_lut_says_why_a_lut_cannot_be_a_hald_image(tmp_path):
    with pytest.raises(LutcliError, match=r"cannot write '.*x\.png' as hald: a Hald image holds"):
        write_lut(Lut3D(np.zeros((3, 4, 4, 4)), -1, 1), tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"written as PNG or TIFF \(\.png, \.tif, \.tiff\)"):
        write_hald(LutFile(identity(4)), tmp_path / "x.jpg")


# Recognising and errors -------------------------------------------------------------------------


def test_read_lut_recognises_a_hald_png_by_content_whatever_its_name(tmp_path):
    write_hald(LutFile(smooth_lut(16)), tmp_path / "look.png")
    (tmp_path / "look.png").rename(tmp_path / "look.cube")
    lut_file = read_lut(tmp_path / "look.cube")
    assert lut_file.format == "hald"
    assert lut_file.notes == [
        f"{tmp_path / 'look.cube'}: its content is Hald CLUT image, not cube; read as such"
    ]
    assert np.abs(lut_file.lut.table - smooth_lut(16).table).max() <= 0.5 / 65535 + 1e-7


def test_recognises_square_png_and_tiff_of_hald_sides_only(tmp_path):
    for side, expected in [(64, True), (27, True), (63, False)]:
        Image.new("RGB", (side, side)).save(tmp_path / "x.png")
        Image.new("RGB", (side, side)).save(tmp_path / "x.tif")
        for name in ("x.png", "x.tif"):
            assert recognises((tmp_path / name).read_bytes()[:4096]) is expected
    Image.new("RGB", (64, 8)).save(tmp_path / "wide.png")
    assert not recognises((tmp_path / "wide.png").read_bytes())
    assert not recognises(b"LUT_3D_SIZE 2\n") and not recognises(b"\x89PNG\r\n")
    assert detect_format(tmp_path / "x.png").name == "hald"  # by its name: 63x63 is no Hald


@pytest.mark.parametrize(
    ("size", "shape"), [((500, 500), "500x500"), ((64, 32), "64x32"), ((1, 1), "1x1")]
)
def test_an_image_of_another_size_is_a_one_line_error(tmp_path, size, shape):
    path = tmp_path / "photo.png"
    Image.new("RGB", size).save(path)
    with pytest.raises(LutFormatError) as error:
        read_lut(path)
    assert str(error.value) == (
        f"'{path}' is {shape}: not a Hald image (it must be square, its side the cube of a "
        "level 2..16: 8, 27, 64, 125, 216, 343, 512, ...)"
    )


def test_unreadable_files_are_one_line_errors(tmp_path):
    (tmp_path / "text.png").write_text("not an image")
    write_hald(LutFile(identity(4)), tmp_path / "cut.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "cut.png").read_bytes()[:60])
    expected = {
        "text.png": "text.png: not a PNG or TIFF image, so not a Hald image",
        "cut.png": "cut.png: cannot read the Hald image: not a supported image or the file is",
        "missing.png": "missing.png: no such file",
    }
    for name, message in expected.items():
        with pytest.raises(LutFormatError) as error:
            read_lut(tmp_path / name, format="hald")
        assert str(error.value).startswith(f"{tmp_path}/{message}")
        assert "\n" not in str(error.value)


# ffmpeg's haldclut filter -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def look_and_photo(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A 64-point look written as a level-8 16-bit Hald PNG, and a real photo (scikit-image's
    astronaut, 128 pixels square) at 8 and at 16 bits."""
    folder = tmp_path_factory.mktemp("haldclut")
    write_hald(LutFile(smooth_lut(64, seed=5)), folder / "look.png")
    photo = cv2.resize(skimage_data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    write_image(folder / "photo.png", picture(photo))
    write_image(folder / "photo16.png", picture(photo.astype(np.uint16) * 257))
    return folder / "look.png", folder / "photo.png", folder / "photo16.png"


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
def test_ffmpeg_haldclut_and_lutcli_agree_on_a_photo(look_and_photo, interp):
    hald, photo, photo16 = look_and_photo
    lut = read_lut(hald).lut.with_interp(interp)
    pixels = read_image(photo).pixels
    ours = lut.apply(pixels).astype(np.float64)
    # In 8 bits ffmpeg truncates its results (and the 16-bit Hald image) where lutcli rounds.
    ffmpeg8 = ffmpeg_haldclut(photo, hald, interp, "rgb24")
    assert np.abs(ffmpeg8 - ours).max() <= 1
    # In 16 bits (the photo given at 16 bits: ffmpeg's own 8-to-16 conversion is off by up to
    # a level) the two agree to a 16-bit step, and lutcli's 8-bit output is the rounded one.
    ffmpeg16 = ffmpeg_haldclut(photo16, hald, interp, "rgb48be").astype(np.float64)
    assert np.abs(ffmpeg16 / 257 - ours).max() <= 0.51
    ours16 = lut.apply(pixels.astype(np.uint16) * 257).astype(np.float64)
    assert np.abs(ffmpeg16 - ours16).max() <= 2
