"""Teachers: what ``--teacher`` names, and each kind's ground truth and failures."""

from __future__ import annotations

import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lutcli.distillation.teachers import (
    CommandTeacher,
    LutTeacher,
    ModelTeacher,
    TeacherError,
    TorchScriptTeacher,
    parse_teacher,
)
from lutcli.errors import ModelFileError
from lutcli.io.images import read_image
from lutcli.io.pixels import from_tensor, to_tensor
from lutcli.lut.formats import write_lut
from lutcli.lut.formats.cube import read_cube
from teacher_support import (
    FAIL,
    GARBAGE,
    HANG,
    INVERT,
    SAVE_ARGUMENTS,
    WRITE_NOTHING,
    noise,
    save_look_model,
    script_teacher,
    write_look_cube,
    write_picture,
)

# torch 2.13 deprecates TorchScript, which users' teacher files still are.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning")


class Invert(nn.Module):
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return 1 - image


class DropsAColumn(nn.Module):
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image[..., :-1]


class Raises(nn.Module):
    def forward(self, image: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("this module is broken\nsecond line of the trace")


def save_torchscript(path: Path, module: nn.Module) -> Path:
    torch.jit.save(torch.jit.script(module), str(path))
    return path


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    return write_picture(tmp_path / "photo.png", noise(16, 24))


# Which teacher a spec names ---------------------------------------------------------------------


def test_a_spec_starting_with_cmd_is_a_command(tmp_path):
    teacher = parse_teacher("cmd:convert {input} -negate {output}", timeout=7)
    assert isinstance(teacher, CommandTeacher)
    assert teacher.spec == "cmd:convert {input} -negate {output}"
    assert teacher.arguments == ["convert", "{input}", "-negate", "{output}"]
    assert teacher.timeout == 7


def test_a_cube_file_is_a_cube_teacher(tmp_path):
    path = tmp_path / "look.CUBE"  # the extension in any case
    write_look_cube(path)
    teacher = parse_teacher(str(path))
    assert isinstance(teacher, LutTeacher)
    assert teacher.spec == str(path)


def test_a_hald_image_is_a_lut_teacher_with_its_colors(tmp_path):
    cube = write_look_cube(tmp_path / "look.cube")
    path = tmp_path / "look.png"
    write_lut(cube, path)  # a Hald CLUT image, as film simulation packs ship them
    teacher = parse_teacher(str(path))
    assert isinstance(teacher, LutTeacher)
    image = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    expected = cube.lut.apply(image)
    assert (teacher.map(image) - expected).abs().max() < 1e-4  # level 3: 9³, in 16 bits


def test_a_lutcli_model_file_is_a_model_teacher(tmp_path):
    path = tmp_path / "look.pt"
    save_look_model(path)
    teacher = parse_teacher(str(path))
    assert isinstance(teacher, ModelTeacher)
    assert teacher.model.name == "basic" and teacher.model.lut_size == 9


def test_a_torchscript_file_is_a_torchscript_teacher(tmp_path):
    path = save_torchscript(tmp_path / "invert.pt", Invert())
    assert isinstance(parse_teacher(str(path)), TorchScriptTeacher)


def test_a_missing_teacher_file_is_named_with_a_hint_about_commands(tmp_path):
    missing = tmp_path / "nope.cube"
    with pytest.raises(TeacherError) as caught:
        parse_teacher(str(missing))
    assert str(missing) in str(caught.value) and "'cmd:'" in str(caught.value)


def test_a_file_that_is_neither_model_nor_torchscript_is_refused_as_a_model(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a model")
    with pytest.raises(ModelFileError) as caught:
        parse_teacher(str(path))
    assert "not a lutcli model" in str(caught.value) and str(path) in str(caught.value)


# Command teachers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "missing"),
    [
        ("ffmpeg -i {input} out.png", "{output}"),
        ("ffmpeg -i in.png {output}", "{input}"),
        ("ffmpeg", "{input}, {output}"),
        ("", "{input}, {output}"),
    ],
)
def test_a_command_needs_both_placeholders(template, missing):
    with pytest.raises(TeacherError) as caught:
        parse_teacher("cmd:" + template)
    message = str(caught.value)
    assert "must contain {input} and {output}" in message and message.endswith(missing)


def test_a_placeholder_inside_an_argument_counts():
    teacher = parse_teacher("cmd:tool --in={input} --out=/tmp/{output}.png")
    assert teacher.arguments == ["tool", "--in={input}", "--out=/tmp/{output}.png"]


def test_unbalanced_quotes_in_a_command_are_a_teacher_error():
    with pytest.raises(TeacherError, match="cannot parse the teacher command"):
        parse_teacher("cmd:ffmpeg -i {input} -vf 'eq=gamma=2 {output}")


def test_a_command_teacher_gives_the_pixels_the_command_wrote(tmp_path, picture):
    script = script_teacher(tmp_path / "invert", INVERT)
    pixels = parse_teacher(script.spec).teach(picture)
    assert pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, 255 - read_image(picture).pixels)
    assert script.calls == [str(picture)]


def test_a_failing_command_is_named_with_its_exit_code_and_last_error_line(tmp_path, picture):
    script = script_teacher(tmp_path / "fail", FAIL)
    with pytest.raises(TeacherError) as caught:
        parse_teacher(script.spec).teach(picture)
    message = str(caught.value)
    assert str(picture) in message and "exit 3" in message
    assert message.endswith(": teacher: this picture is cursed")
    assert "loading the look" not in message  # one line: only the last one


def test_a_command_that_hangs_is_stopped_and_named(tmp_path, picture):
    script = script_teacher(tmp_path / "hang", HANG)
    teacher = parse_teacher(script.spec, timeout=0.5)
    started = time.perf_counter()
    with pytest.raises(TeacherError) as caught:
        teacher.teach(picture)
    assert time.perf_counter() - started < 5
    assert str(picture) in str(caught.value)
    assert str(caught.value).endswith("did not finish in 0.5 s")


def test_a_program_that_does_not_exist_is_not_found(tmp_path, picture):
    teacher = parse_teacher("cmd:lutcli-no-such-program {input} {output}")
    with pytest.raises(TeacherError, match="teacher command not found: lutcli-no-such-program"):
        teacher.teach(picture)


def test_a_command_that_writes_nothing_is_a_teacher_error(tmp_path, picture):
    script = script_teacher(tmp_path / "lazy", WRITE_NOTHING)
    with pytest.raises(TeacherError) as caught:
        parse_teacher(script.spec).teach(picture)
    assert str(picture) in str(caught.value) and "wrote nothing" in str(caught.value)
    assert script.calls == [str(picture)]  # it ran, and succeeded, without an output


def test_a_command_that_writes_no_image_is_named_by_the_picture_not_its_temporary_file(
    tmp_path, picture
):
    script = script_teacher(tmp_path / "garbage", GARBAGE)
    with pytest.raises(TeacherError) as caught:
        parse_teacher(script.spec).teach(picture)
    message = str(caught.value)
    assert message == (
        f"the teacher command on '{picture}' wrote a file that is not a readable image "
        "to {output}"
    )


def test_a_command_runs_without_a_shell(tmp_path, picture, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = script_teacher(tmp_path / "args", SAVE_ARGUMENTS, "'; touch pwned' '$(touch pwned2)'")
    teacher = parse_teacher(script.spec)
    pixels = teacher.teach(picture)
    np.testing.assert_array_equal(pixels, read_image(picture).pixels)
    arguments = json.loads((script.folder / "arguments.json").read_text())
    assert arguments[0] == str(picture)
    assert Path(arguments[1]).name == "output.png"
    assert arguments[2:] == ["; touch pwned", "$(touch pwned2)"]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_a_picture_path_with_spaces_and_quotes_is_one_argument(tmp_path):
    picture = write_picture(tmp_path / "it's a photo; $HOME.png", noise(16, 24, seed=1))
    script = script_teacher(tmp_path / "args", SAVE_ARGUMENTS)
    parse_teacher(script.spec).teach(picture)
    arguments = json.loads((script.folder / "arguments.json").read_text())
    assert arguments[0] == str(picture)


def test_the_command_output_folder_is_removed_after_the_run(tmp_path, picture):
    script = script_teacher(tmp_path / "args", SAVE_ARGUMENTS)
    parse_teacher(script.spec).teach(picture)
    output = Path(json.loads((script.folder / "arguments.json").read_text())[1])
    assert not output.parent.exists()


# Teachers that run in-process -------------------------------------------------------------------


def test_a_cube_teacher_gives_the_cube_s_look_at_16_bits(tmp_path, picture):
    path = tmp_path / "look.cube"
    write_look_cube(path)
    pixels = parse_teacher(str(path)).teach(picture)
    assert pixels.dtype == np.uint16 and pixels.shape == (16, 24, 3)
    expected = read_cube(path).lut.apply(to_tensor(read_image(picture).pixels)).clamp(0, 1)
    difference = np.abs(pixels / 65535 - expected[0].permute(1, 2, 0).numpy())
    assert difference.max() <= 0.5 / 65535 + 1e-6
    # And it is the look, not the picture as it was.
    assert np.abs(pixels / 65535 - read_image(picture).pixels / 255).max() > 0.1


def test_a_model_teacher_gives_the_model_s_look_at_16_bits(tmp_path, picture):
    path = tmp_path / "look.pt"
    model = save_look_model(path)
    pixels = parse_teacher(str(path)).teach(picture)
    assert pixels.dtype == np.uint16
    with torch.no_grad():
        expected = from_tensor(model(to_tensor(read_image(picture).pixels)), np.uint16)
    assert np.abs(pixels.astype(int) - expected.astype(int)).max() <= 1


def test_a_torchscript_teacher_runs_the_module(tmp_path, picture):
    path = save_torchscript(tmp_path / "invert.pt", Invert())
    pixels = parse_teacher(str(path)).teach(picture)
    assert pixels.dtype == np.uint16
    expected = 65535 - read_image(picture).pixels.astype(int) * 257
    assert np.abs(pixels.astype(int) - expected).max() <= 1


def test_a_torchscript_module_of_the_wrong_shape_is_a_teacher_error(tmp_path, picture):
    path = save_torchscript(tmp_path / "crop.pt", DropsAColumn())
    with pytest.raises(TeacherError) as caught:
        parse_teacher(str(path)).teach(picture)
    message = str(caught.value)
    assert str(path) in message and str(picture) in message
    assert "(1, 3, 16, 23)" in message and "(1, 3, 16, 24)" in message


def test_a_torchscript_module_that_raises_is_one_line(tmp_path, picture):
    path = save_torchscript(tmp_path / "broken.pt", Raises())
    with pytest.raises(TeacherError) as caught:
        parse_teacher(str(path)).teach(picture)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message


def test_a_torchscript_file_with_broken_code_is_a_teacher_error(tmp_path):
    saved = save_torchscript(tmp_path / "invert.pt", Invert())
    path = tmp_path / "broken.pt"
    broken = 0
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(path, "w") as damaged:
        for name in source.namelist():
            data = source.read(name)
            if "/code/" in name and name.endswith(".py"):
                broken += b"def forward" in data
                data = data.replace(b"def forward", b"def forward(((")
            damaged.writestr(name, data)
    assert broken == 1
    with pytest.raises(TeacherError) as caught:
        parse_teacher(str(path))
    message = str(caught.value)
    assert message.startswith(f"cannot load TorchScript teacher '{path}': ")
    assert "\n" not in message


# What cached ground truth is keyed on -----------------------------------------------------------


def test_a_teacher_file_s_identity_changes_with_its_bytes(tmp_path):
    path = tmp_path / "look.cube"
    write_look_cube(path, gammas=(0.8, 1.2, 2.0))
    before = parse_teacher(str(path)).identity
    assert parse_teacher(str(path)).identity == before  # the same file: the same teacher
    write_look_cube(path, gammas=(0.8, 1.2, 2.1))
    assert parse_teacher(str(path)).identity != before


def test_two_commands_have_different_identities():
    first = parse_teacher("cmd:tool --strength 1 {input} {output}")
    second = parse_teacher("cmd:tool --strength 2 {input} {output}")
    again = parse_teacher("cmd:tool --strength 1 {input} {output}", timeout=5)
    assert first.identity != second.identity
    assert first.identity == again.identity  # the time limit does not change the output


def test_identity_is_a_hex_digest_that_tells_kinds_apart(tmp_path):
    model = tmp_path / "look.pt"
    save_look_model(model)
    identity = parse_teacher(str(model)).identity
    assert len(identity) == 64 and int(identity, 16) >= 0
    # A command and a model never share an entry, even given the same text.
    assert parse_teacher(f"cmd:{sys.executable} {{input}} {{output}}").identity != identity
