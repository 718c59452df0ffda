"""``lutcli export-cube``: the .cube holds the model's LUT, and other tools (ffmpeg's lut3d,
OpenColorIO) given that file produce what ``lutcli apply --model`` produces, on real photos."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import PyOpenColorIO as ocio
import pytest
import torch
from cli_support import (
    assert_one_error_line,
    noise,
    save_adaptive_model,
    save_warm_model,
    warm_lut,
    write_picture,
)
from skimage import data as skimage_data

from lutcli.io.images import read_image
from lutcli.lut.formats import read_lut
from lutcli.lut.formats.cube import read_cube, write_cube
from lutcli.lut.interpolate import apply_lut
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D, LutFile
from lutcli.models.basic import BasicLookupModel
from lutcli.models.export import sample_lut
from lutcli.models.files import save_model
from lutcli.models.registry import create_model


def test_exported_cube_holds_the_models_lut(tmp_path, model_path, invoke):
    output = tmp_path / "look.cube"
    result = invoke("export-cube", model_path, "-o", output)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {output} (17x17x17)\n"
    cube = read_cube(output)
    assert isinstance(cube.lut, Lut3D) and cube.lut.size == 17
    np.testing.assert_allclose(cube.lut.table, warm_lut(17).numpy(), rtol=0, atol=1e-6)
    assert cube.title == "look"  # the model file's name
    assert any("look.pt" in comment for comment in cube.comments)


def test_size_resamples_the_model(tmp_path, model_path, invoke):
    output = tmp_path / "small.cube"
    result = invoke("export-cube", model_path, "-o", output, "--size", "9", "-q")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    text = output.read_text()
    assert "LUT_3D_SIZE 9" in text.splitlines()
    data_lines = [line for line in text.splitlines() if line[:1].isdigit() or line[:1] == "-"]
    assert len(data_lines) == 9**3
    lattice = identity_lut(9).reshape(1, 3, 81, 9)  # the lattice colors as a picture
    expected = apply_lut(lattice, warm_lut(17)).reshape(3, 9, 9, 9)
    np.testing.assert_allclose(read_cube(output).lut.table, expected.numpy(), atol=1e-6)


def test_title(tmp_path, model_path, invoke):
    output = tmp_path / "look.cube"
    result = invoke("export-cube", model_path, "-o", output, "--title", "Warm evening")
    assert result.exit_code == 0, result.output
    assert 'TITLE "Warm evening"' in output.read_text().splitlines()
    assert read_cube(output).title == "Warm evening"


def test_existing_output_needs_overwrite(tmp_path, model_path, invoke):
    output = tmp_path / "look.cube"
    output.write_text("a user's own LUT")
    assert_one_error_line(
        invoke("export-cube", model_path, "-o", output), str(output), "--overwrite"
    )
    assert output.read_text() == "a user's own LUT"
    result = invoke("export-cube", model_path, "-o", output, "--overwrite")
    assert result.exit_code == 0, result.output
    assert read_cube(output).lut.size == 17


@pytest.mark.parametrize("name", ["look.txt", "look", "look.cube.bak"])
def test_an_output_of_no_lut_extension_needs_a_format(tmp_path, model_path, invoke, name):
    result = invoke("export-cube", model_path, "-o", tmp_path / name)
    assert_one_error_line(result, "--format")
    assert ".cube" in result.stderr
    assert not (tmp_path / name).exists()
    result = invoke("export-cube", model_path, "-o", tmp_path / name, "--format", "cube")
    assert result.exit_code == 0, result.output
    assert read_cube(tmp_path / name).lut.size == 17


def test_missing_or_damaged_model_is_one_line(tmp_path, invoke):
    output = tmp_path / "look.cube"
    assert_one_error_line(invoke("export-cube", tmp_path / "nope.pt", "-o", output), "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    assert_one_error_line(invoke("export-cube", tmp_path / "bad.pt", "-o", output), "bad.pt")
    assert not output.exists()


def test_output_in_a_missing_folder_is_one_line(tmp_path, model_path, invoke):
    output = tmp_path / "no" / "look.cube"
    assert_one_error_line(invoke("export-cube", model_path, "-o", output), "cannot write")


# The product's promise: the exported .cube gives other tools the colors lutcli gives. --------


def ffmpeg_apply(cube: Path, source: Path, output: Path) -> np.ndarray:
    """ffmpeg's lut3d filter (trilinear) on an 8-bit RGB PNG; returns the RGB pixels."""
    command = ["ffmpeg", "-v", "error", "-y", "-i", source.name]
    command += ["-vf", f"lut3d=file={cube.name}:interp=trilinear,format=rgb24", output.name]
    # Run beside the files: no path escaping in the filter argument.
    done = subprocess.run(command, cwd=source.parent, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return read_image(output).pixels


def ocio_apply(cube: Path, pixels: np.ndarray) -> np.ndarray:
    """OpenColorIO's CPU processor for the .cube file (linear interpolation), rounded to 8 bits."""
    transform = ocio.FileTransform(src=str(cube), interpolation=ocio.INTERP_LINEAR)
    processor = ocio.Config.CreateRaw().getProcessor(transform).getDefaultCPUProcessor()
    values = np.ascontiguousarray(pixels, dtype=np.float32).reshape(-1) / np.float32(255)
    processor.applyRGB(values)
    return (values.reshape(pixels.shape).clip(0, 1) * 255).round().astype(np.uint8)


def max_difference(ours: np.ndarray, theirs: np.ndarray) -> int:
    """Largest difference between two 8-bit pictures, in levels."""
    return int(np.abs(ours.astype(int) - theirs.astype(int)).max())


@pytest.mark.parametrize("photo", ["astronaut", "chelsea"])
def test_ffmpeg_and_opencolorio_reproduce_lutcli_apply(tmp_path, invoke, photo):
    model = tmp_path / "look.pt"
    save_warm_model(model, size=33, crosstalk=0.15)
    lut = warm_lut(33, 0.15)
    assert (lut - identity_lut(33)).abs().max() > 0.1  # a real look, not nearly the identity
    cube = tmp_path / "look.cube"
    assert invoke("export-cube", model, "-o", cube, "-q").exit_code == 0
    source = write_picture(tmp_path / "in.png", getattr(skimage_data, photo)()[..., :3])
    ours_path = tmp_path / "lutcli.png"
    result = invoke("apply", source, ours_path, "--model", model, "-q")
    assert result.exit_code == 0, result.output
    ours = read_image(ours_path).pixels
    original = read_image(source).pixels
    assert np.abs(ours.astype(int) - original.astype(int)).mean() > 3  # the look shows

    worst = max_difference(ours, ocio_apply(cube, original))
    assert worst <= 1, (photo, "OpenColorIO", worst)

    assert shutil.which("ffmpeg"), "ffmpeg is not installed (make system-deps installs it)"
    worst = max_difference(ours, ffmpeg_apply(cube, source, tmp_path / "ffmpeg.png"))
    assert worst <= 1, (photo, "ffmpeg", worst)


def test_a_resampled_cube_still_agrees_with_opencolorio(tmp_path, invoke):
    """Exported at another size than the model's, the .cube is the model sampled there: OCIO on
    it matches lutcli applying that same .cube."""
    model = tmp_path / "look.pt"
    save_warm_model(model, size=17, crosstalk=0.15)
    cube = tmp_path / "look.cube"
    assert invoke("export-cube", model, "-o", cube, "--size", "25", "-q").exit_code == 0
    source = write_picture(tmp_path / "in.png", skimage_data.chelsea()[::2, ::2])
    result = invoke("apply", source, tmp_path / "out.png", "--cube", cube, "-q")
    assert result.exit_code == 0, result.output
    ours = read_image(tmp_path / "out.png").pixels
    assert max_difference(ours, ocio_apply(cube, read_image(source).pixels)) <= 1


# Image-adaptive models: each photo has its own LUT ----------------------------------------------


def small_photo(tmp_path: Path, name: str = "astronaut") -> Path:
    """A real photo, 64x64, as a PNG file."""
    pixels = getattr(skimage_data, name)()[:, :, :3]
    side = min(pixels.shape[:2])
    small = cv2.resize(pixels[:side, :side], (64, 64), interpolation=cv2.INTER_AREA)
    return write_picture(tmp_path / f"{name}.png", small)


def test_an_adaptive_model_without_image_warns_and_exports_its_fixed_part(tmp_path, invoke):
    model = save_adaptive_model(tmp_path / "auto.pt", "first-linear")
    output = tmp_path / "auto.cube"
    result = invoke("export-cube", tmp_path / "auto.pt", "-o", output)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {output} (9x9x9)\n"
    warning = result.stderr.strip()
    assert warning.startswith("warning:") and "--image" in warning
    assert len(result.stderr.splitlines()) <= 2  # one message (wrapped at most once)
    table = read_cube(output).lut.table
    np.testing.assert_allclose(table, sample_lut(model, 9).numpy(), rtol=0, atol=1e-6)
    assert any("picture-independent" in comment for comment in read_cube(output).comments)


@pytest.mark.parametrize("name", ["first-linear", "second-product"])
def test_the_cube_for_a_photo_gives_that_photo_what_apply_model_gives(tmp_path, invoke, name):
    model = tmp_path / "auto.pt"
    save_adaptive_model(model, name)
    photo = small_photo(tmp_path)
    cube = tmp_path / "auto.cube"
    result = invoke("export-cube", model, "-o", cube, "--image", photo)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no warning: the LUT is the one for this photo
    assert any(photo.name in comment for comment in read_cube(cube).comments)

    outputs = {}
    for look in (["--model", model], ["--cube", cube]):
        out = tmp_path / f"{look[0][2:]}.png"
        result = invoke("apply", photo, out, *look, "-q")
        assert result.exit_code == 0, result.output
        outputs[look[0]] = read_image(out).pixels.astype(int)
    original = read_image(photo).pixels.astype(int)
    assert np.abs(outputs["--model"] - original).max() > 2  # the model changes this photo
    assert np.abs(outputs["--cube"] - outputs["--model"]).max() <= 1

    # Another photo gets another LUT.
    other = tmp_path / "other.cube"
    coffee = small_photo(tmp_path, "coffee")
    result = invoke("export-cube", model, "-o", other, "--image", coffee)
    assert result.exit_code == 0, result.output
    assert np.abs(read_cube(other).lut.table - read_cube(cube).lut.table).max() > 1e-4


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_model_whose_lut_holds_nan_is_one_line_and_writes_nothing(tmp_path, invoke, value):
    """It was a ValueError traceback from the .cube writer."""
    model = BasicLookupModel(5)
    with torch.no_grad():
        model.lut[0, 1, 2, 3] = value
    path = tmp_path / "broken.pt"
    save_model(path, model)
    output = tmp_path / "broken.cube"
    result = invoke("export-cube", path, "-o", output)
    assert_one_error_line(result, str(path), "NaN or infinite")
    assert not output.exists()


def test_a_model_whose_colors_overflow_is_one_line_and_writes_nothing(tmp_path, invoke):
    """Finite tensors can still give infinite colors (a huge scale times a LUT)."""
    model = create_model("first-linear", lut_size=5, basis_count=1)
    with torch.no_grad():
        model.basic_scale.fill_(3e38)
        model.basic.lut.mul_(10)
    path = tmp_path / "overflow.pt"
    save_model(path, model)
    output = tmp_path / "overflow.cube"
    result = invoke("export-cube", path, "-o", output)
    assert_one_error_line(result, str(path), "NaN or infinite colors")
    assert not output.exists()


# Every LUT format ---------------------------------------------------------------------------

# Output name, and the worst 8-bit level difference from the model's own apply: the formats
# holding float tables give its pixels within rounding; a 16-bit Hald image (36³, resampled
# from 17³) and a 12-bit .3dl quantise the table.
EXPORTS = [
    ("look.cube", 1),
    ("look.png", 1),
    ("look.tif", 1),
    ("look.3dl", 1),
    ("look.spi3d", 1),
    ("look.csp", 1),
]


@pytest.mark.parametrize(("name", "levels"), EXPORTS)
def test_every_format_exported_applies_as_the_model_does(
    tmp_path, model_path, invoke, name, levels
):
    output = tmp_path / name
    result = invoke("export-cube", model_path, "-o", output)
    assert result.exit_code == 0, result.output
    source = write_picture(tmp_path / "in.png", noise(24, 32))
    by_model, by_file = tmp_path / "model.png", tmp_path / "file.png"
    assert invoke("apply", source, by_model, "--model", model_path).exit_code == 0
    result = invoke("apply", source, by_file, "--lut", output)
    assert result.exit_code == 0, result.output
    difference = np.abs(
        read_image(by_model).pixels.astype(int) - read_image(by_file).pixels.astype(int)
    )
    assert difference.max() <= levels, name


def test_a_lut_file_is_converted_keeping_its_comments(tmp_path, model_path, invoke):
    cube = tmp_path / "look.cube"
    assert invoke("export-cube", model_path, "-o", cube).exit_code == 0
    converted = tmp_path / "look.3dl"
    result = invoke("export-cube", cube, "-o", converted, "--title", "converted")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {converted} (3dl, 17x17x17)\n"
    back = read_lut(converted)
    assert back.format == "3dl"
    np.testing.assert_allclose(back.lut.table, read_cube(cube).lut.table, atol=1 / 4095)
    assert any("Exported by lutcli from look.pt" in comment for comment in back.comments)
    assert any("look.cube (cube file)" in comment for comment in back.comments)


def test_the_summary_says_what_the_file_holds(tmp_path, model_path, invoke):
    output = tmp_path / "look.png"
    result = invoke("export-cube", model_path, "-o", output)
    assert result.stdout == f"wrote {output} (hald, 25x25x25)\n"  # 17³ fits level 5


def test_format_forces_the_format_whatever_the_extension(tmp_path, model_path, invoke):
    output = tmp_path / "look.lut"
    result = invoke("export-cube", model_path, "-o", output, "--format", "spi3d")
    assert result.exit_code == 0, result.output
    assert read_lut(output).format == "spi3d"


def test_a_lut_no_format_can_hold_is_one_line(tmp_path, invoke):
    wide = tmp_path / "wide.cube"
    lut = Lut3D(identity_lut(5).numpy(), domain_min=-1, domain_max=2)
    write_cube(LutFile(lut), wide)
    result = invoke("export-cube", wide, "-o", tmp_path / "wide.png")
    assert_one_error_line(result, "wide.png", "hald")
    assert not (tmp_path / "wide.png").exists()


def test_format_offers_every_format_lutcli_writes():
    from lutcli.cli.export_cube import FORMAT_NAMES
    from lutcli.lut.formats import FORMATS

    assert sorted(FORMAT_NAMES) == sorted(FORMATS)
