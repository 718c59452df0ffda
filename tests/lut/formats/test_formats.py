"""read_lut, write_lut and detect_format: the format of a file by its content before its
extension, what the user is told when the two disagree, one-line errors for what is no LUT,
atomic writes; and the helpers every format shares (common.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from lutcli.errors import LutcliError, LutFormatError
from lutcli.fileutil import TEMP_SUFFIX
from lutcli.lut import formats
from lutcli.lut.formats import detect_format, read_lut, write_lut
from lutcli.lut.formats.common import LutFormat, read_text, write_file
from lutcli.lut.formats.cube import format_cube, parse_cube
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence

CUBE = formats.FORMATS["cube"]


def random_lut(size: int = 5, seed: int = 0) -> Lut3D:
    rng = np.random.default_rng(seed)
    table = identity_lut(size).numpy() + 0.05 * rng.standard_normal((3, size, size, size))
    return Lut3D(table.clip(0, 1))


def cube_text(title: str = "look") -> str:
    return format_cube(LutFile(random_lut(), title))


def write_bytes(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read_fake(path) -> LutFile:
    """The stub format's reader: any file, one fixed LUT."""
    return LutFile(Lut1D(np.eye(2, 3)), format="fake")


def write_fake(lut_file: LutFile, path) -> None:
    write_file(path, b"FAKE\n")


@pytest.fixture
def fake(monkeypatch) -> LutFormat:
    """A stub format registered last: files starting with FAKE, extension .fake."""
    lut_format = LutFormat(
        name="fake",
        description="fake test format",
        extensions=(".fake",),
        recognises=lambda head: head.startswith(b"FAKE"),
        read=read_fake,
        write=write_fake,
    )
    monkeypatch.setitem(formats.FORMATS, "fake", lut_format)
    return lut_format


def assert_one_line(error: pytest.ExceptionInfo, path: Path, fragment: str) -> None:
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    assert fragment in message, message


# Reading: content, then extension ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["look.cube", "LOOK.CUBE", "look.txt", "look", "look.cube.bak"])
def test_a_cube_file_is_read_as_cube_whatever_its_name(tmp_path, name):
    """The content says .cube; an extension no format claims adds nothing to say."""
    path = write_bytes(tmp_path, name, cube_text())
    assert detect_format(path) is CUBE
    lut_file = read_lut(path)
    assert lut_file.format == "cube" and lut_file.title == "look" and lut_file.notes == []
    np.testing.assert_allclose(lut_file.lut.table, random_lut().table, rtol=0, atol=1e-6)


def assert_content_note(note: str, path: Path, lut_format: LutFormat) -> None:
    """The note that ``path`` was read as ``lut_format``, what its content is."""
    assert note.startswith(f"{path}: ") and lut_format.description in note, note
    assert "read as such" in note, note


def test_content_and_extension_disagreeing_are_read_by_content_with_a_note(tmp_path, fake):
    cube_named_fake = write_bytes(tmp_path, "look.fake", cube_text())
    lut_file = read_lut(cube_named_fake)
    assert lut_file.format == "cube" and lut_file.title == "look"
    assert len(lut_file.notes) == 1
    assert_content_note(lut_file.notes[0], cube_named_fake, CUBE)
    fake_named_cube = write_bytes(tmp_path, "other.cube", "FAKE\n")
    assert detect_format(fake_named_cube) is fake
    lut_file = read_lut(fake_named_cube)
    assert lut_file.format == "fake" and len(lut_file.notes) == 1
    assert_content_note(lut_file.notes[0], fake_named_cube, fake)


def test_the_note_comes_before_the_notes_of_reading(tmp_path, fake):
    text = cube_text().replace("LUT_3D_SIZE 5\n", "LUT_3D_SIZE 5\nLUT_VENDOR_THING 2\n")
    path = write_bytes(tmp_path, "look.fake", text)
    notes = read_lut(path).notes
    assert len(notes) == 2
    assert_content_note(notes[0], path, CUBE)
    assert notes[1] == f"{path}:3: unknown keyword 'LUT_VENDOR_THING' ignored"  # after TITLE


def test_a_hald_image_named_cube_and_a_cube_named_png(tmp_path):
    """The formats lutcli ships: a Hald PNG named .cube is still an image, a .cube text named
    .png still text; each is read as what it is, and the user is told."""
    lut = Lut3D(identity_lut(4).numpy())
    written = tmp_path / "identity.png"
    assert write_lut(lut, written).name == "hald"
    image_named_cube = write_bytes(tmp_path, "identity.cube", written.read_bytes())
    lut_file = read_lut(image_named_cube)
    assert lut_file.format == "hald" and len(lut_file.notes) == 1
    assert_content_note(lut_file.notes[0], image_named_cube, formats.FORMATS["hald"])
    np.testing.assert_allclose(lut_file.lut.table, lut.table, rtol=0, atol=1e-4)
    text_named_png = write_bytes(tmp_path, "look.png", cube_text())
    lut_file = read_lut(text_named_png)
    assert lut_file.format == "cube" and len(lut_file.notes) == 1
    assert_content_note(lut_file.notes[0], text_named_png, CUBE)


def test_the_extension_decides_when_the_content_says_nothing(tmp_path):
    """A .cube file whose size keyword comes after more comments than detection looks at is
    still read by its extension; under a name no format claims it is not recognised."""
    text = "# a long licence\n" * 400 + cube_text()
    assert text.index("LUT_3D_SIZE") > formats.HEAD_BYTES
    path = write_bytes(tmp_path, "licensed.cube", text)
    assert detect_format(path) is CUBE
    assert read_lut(path).notes == []
    with pytest.raises(LutFormatError, match="not a LUT file lutcli reads"):
        read_lut(write_bytes(tmp_path, "licensed.txt", text))


def test_the_extension_decides_between_formats_that_both_recognise(tmp_path, monkeypatch):
    """When two formats claim the content, the one of the extension reads it; without one, the
    first in FORMATS."""
    greedy = LutFormat(
        name="greedy",
        description="greedy test format",
        extensions=(".greedy",),
        recognises=lambda head: True,
        read=read_fake,
        write=write_fake,
    )
    monkeypatch.setitem(formats.FORMATS, "greedy", greedy)
    text = cube_text()
    assert detect_format(write_bytes(tmp_path, "a.greedy", text)) is greedy
    assert detect_format(write_bytes(tmp_path, "a.cube", text)) is CUBE
    assert detect_format(write_bytes(tmp_path, "a.txt", text)) is CUBE  # before greedy
    assert read_lut(tmp_path / "a.greedy").notes == []


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("notes.txt", "hello world\n"),
        ("notes.md", "# a title\n\nsome text\n"),
        ("random.bin", bytes(range(256)) * 4),
        ("empty", b""),
    ],
)
def test_a_file_that_is_no_lut_is_named_in_one_line(tmp_path, name, data):
    path = write_bytes(tmp_path, name, data)
    for call in (detect_format, read_lut):
        with pytest.raises(LutFormatError) as caught:
            call(path)
        assert_one_line(caught, path, "not a LUT file lutcli reads (its content is none of ")
        assert "cube" in str(caught.value) and ".cube" in str(caught.value)


@pytest.mark.parametrize("format_name", [None, "cube"])
def test_missing_files_and_folders_are_named_in_one_line(tmp_path, format_name):
    with pytest.raises(LutFormatError) as caught:
        read_lut(tmp_path / "missing.cube", format=format_name)
    assert_one_line(caught, tmp_path / "missing.cube", "no such file")
    (tmp_path / "folder.cube").mkdir()
    with pytest.raises(LutFormatError) as caught:
        read_lut(tmp_path / "folder.cube", format=format_name)
    assert_one_line(caught, tmp_path / "folder.cube", "is a folder, not a")


def test_a_format_asked_for_is_used_whatever_the_content_says(tmp_path, fake):
    path = write_bytes(tmp_path, "look.fake", cube_text())
    lut_file = read_lut(path, format="cube")
    assert lut_file.format == "cube" and lut_file.notes == []
    assert read_lut(write_bytes(tmp_path, "look.cube", cube_text()), format="fake").format == "fake"
    with pytest.raises(LutFormatError, match=r"no LUT_1D_SIZE or LUT_3D_SIZE keyword"):
        read_lut(write_bytes(tmp_path, "fake.cube", "FAKE\n1 2 3\n"), format="cube")


def test_an_unknown_format_name_is_refused(tmp_path):
    path = write_bytes(tmp_path, "look.cube", cube_text())
    for call in (lambda: read_lut(path, format="nope"), lambda: write_lut(random_lut(), path, "")):
        with pytest.raises(LutcliError, match=r"unknown LUT format '(nope)?'; known: .*cube"):
            call()


def test_the_size_limit_applies_to_every_format(tmp_path, monkeypatch):
    path = write_bytes(tmp_path, "big.cube", cube_text() + "# padding\n" * 300_000)
    monkeypatch.setenv("LUTCLI_MAX_LUT_MB", "1")
    with pytest.raises(LutFormatError) as caught:
        read_lut(path)
    assert_one_line(caught, path, "more than the 1 MiB a LUT file may have")
    monkeypatch.setenv("LUTCLI_MAX_LUT_MB", "lots")
    with pytest.raises(LutcliError, match="LUTCLI_MAX_LUT_MB='lots' is not a whole number"):
        read_lut(path)


# Writing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["out.cube", "OUT.CUBE"])
def test_write_lut_chooses_the_format_by_extension(tmp_path, name):
    lut_file = LutFile(random_lut(), "by extension", ["a comment"])
    assert write_lut(lut_file, tmp_path / name) is CUBE
    back = read_lut(tmp_path / name)
    assert back.title == "by extension" and back.comments == ["a comment"]
    np.testing.assert_allclose(back.lut.table, lut_file.lut.table, rtol=0, atol=1e-6)


def test_write_lut_takes_the_format_asked_for_whatever_the_extension(tmp_path, fake):
    assert write_lut(random_lut(), tmp_path / "out.txt", format="cube") is CUBE
    assert (tmp_path / "out.txt").read_text().startswith("LUT_3D_SIZE 5\n")
    assert write_lut(random_lut(), tmp_path / "out.cube", format="fake") is fake
    assert (tmp_path / "out.cube").read_bytes() == b"FAKE\n"


@pytest.mark.parametrize("name", ["out.txt", "out", "out.cube.tmp"])
def test_an_unknown_extension_asks_for_format(tmp_path, name):
    with pytest.raises(LutcliError) as caught:
        write_lut(random_lut(), tmp_path / name)
    message = str(caught.value)
    assert message.startswith(f"cannot tell a LUT format from the extension of '{tmp_path / name}'")
    assert "give one with --format (" in message and ".cube" in message and "\n" not in message
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    "lut",
    [
        random_lut(),
        Lut1D(np.linspace(0, 1, 16)[:, None] ** [0.5, 1.0, 2.0]),
        LutSequence([Lut1D(np.linspace(0, 1, 16)[:, None].repeat(3, 1)), random_lut()]),
    ],
    ids=["3d", "1d", "shaper-3d"],
)
def test_write_lut_takes_a_bare_lut(tmp_path, lut):
    write_lut(lut, tmp_path / "bare.cube")
    text = (tmp_path / "bare.cube").read_text()
    assert "TITLE" not in text and "#" not in text
    back = read_lut(tmp_path / "bare.cube")
    assert back.title is None and back.comments == [] and type(back.lut) is type(lut)
    image = identity_lut(7).reshape(1, 3, 49, 7).double()
    np.testing.assert_allclose(back.lut.apply(image), lut.apply(image), rtol=0, atol=1e-6)


def test_a_lut_the_format_cannot_hold_is_refused_without_writing(tmp_path):
    path = write_bytes(tmp_path, "kept.cube", "previous content")
    with pytest.raises(LutcliError) as caught:
        write_lut(Lut3D(np.full((3, 2, 2, 2), np.nan)), path)
    assert str(caught.value) == (
        f"cannot write '{path}' as cube: the LUT holds non-finite values (NaN or infinity)"
    )
    assert path.read_text() == "previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.cube"]


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_write_that_fails_leaves_no_partial_file(tmp_path, monkeypatch, failure):
    """A full disk or Ctrl-C while the file is written: the previous file stays whole and no
    temporary is left behind, and a new file does not appear at all."""
    kept = write_bytes(tmp_path, "kept.cube", "previous content")

    def failing_fsync(descriptor):
        raise failure

    monkeypatch.setattr(os, "fsync", failing_fsync)
    expected = LutcliError if isinstance(failure, OSError) else KeyboardInterrupt
    for path in (kept, tmp_path / "new.cube"):
        with pytest.raises(expected) as caught:
            write_lut(LutFile(random_lut(33)), path)
        if expected is LutcliError:
            assert str(caught.value) == f"cannot write '{path}': no space left on device"
    assert kept.read_text() == "previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.cube"]
    assert not any(p.name.endswith(TEMP_SUFFIX) for p in tmp_path.iterdir())


def test_a_folder_that_does_not_exist_is_named(tmp_path):
    path = tmp_path / "missing" / "out.cube"
    with pytest.raises(LutcliError, match=r"^cannot write '.*out\.cube': no such file"):
        write_lut(random_lut(), path)


# What formats share: reading text ---------------------------------------------------------------


def test_read_text_makes_line_endings_newlines_and_drops_a_bom(tmp_path):
    path = write_bytes(tmp_path, "t.txt", "\ufeffone\r\ntwo\rthree\nfour é")
    assert read_text(path, "a test file") == "one\ntwo\nthree\nfour é"


def test_read_text_refuses_binary_data_and_names_the_format(tmp_path):
    path = write_bytes(tmp_path, "t.spi3d", b"SPILUT 1.0\n\0\0\0")
    with pytest.raises(LutFormatError, match=r"binary data, not a text \.spi3d file$") as caught:
        read_text(path, ".spi3d file")
    assert_one_line(caught, path, "binary data")


def test_read_text_reads_a_pipe_only_up_to_the_size_limit(tmp_path, monkeypatch):
    """A pipe (or a file that grows) has no size to check before reading: reading stops at the
    limit instead of filling memory."""
    path = tmp_path / "pipe.cube"
    os.mkfifo(path)
    monkeypatch.setenv("LUTCLI_MAX_LUT_MB", "1")

    def feed() -> None:
        try:
            with open(path, "wb") as pipe:
                for _ in range(64):  # 4 MiB, unless the reader stops first
                    pipe.write(b"0.5 0.5 0.5\n" * 5461)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        with pytest.raises(LutFormatError) as caught:
            read_text(path, "a test file")
    finally:
        writer.join(timeout=30)
    assert_one_line(caught, path, "more than the 1 MiB a LUT file may have")
    assert not writer.is_alive()


def test_write_file_names_the_file_it_cannot_write(tmp_path):
    (tmp_path / "folder.cube").mkdir()
    with pytest.raises(LutcliError, match=r"^cannot write '.*folder\.cube': is a directory$"):
        write_file(tmp_path / "folder.cube", b"data")


def test_parse_and_read_agree_for_what_write_lut_wrote(tmp_path):
    """write_lut's file is format_cube's text, byte for byte."""
    lut_file = LutFile(random_lut(), "same", ["bytes"])
    write_lut(lut_file, tmp_path / "same.cube")
    assert (tmp_path / "same.cube").read_text() == format_cube(lut_file)
    assert parse_cube(format_cube(lut_file)).title == read_lut(tmp_path / "same.cube").title
