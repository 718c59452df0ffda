""".cube reading and writing: hand-written files, colour-science as a second reader and
interpolator, and ffmpeg and OpenColorIO loading what write_cube produces."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import colour
import numpy as np
import PyOpenColorIO as ocio
import pytest
import torch

from lut_format_support import sample_colors, through_lutcli, through_ocio
from lutcli.errors import LutcliError, LutFormatError
from lutcli.lut.formats.cube import (
    VIDEO_BLACK,
    VIDEO_WHITE,
    format_cube,
    parse_cube,
    read_cube,
    write_cube,
)
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence

# A 2x2x2 table whose line k (k = r + 2g + 4b, red fastest) is "k 10+k 20+k".
LINES_2X2X2 = "\n".join(f"{k} {10 + k} {20 + k}" for k in range(8))
# The same as an identity table: line k is the lattice point's own color.
IDENTITY_2X2X2 = "\n".join(f"{k & 1} {k >> 1 & 1} {k >> 2}" for k in range(8))


def write_text(tmp_path: Path, text: str, name: str = "test.cube") -> Path:
    """The file ``name`` holding exactly ``text`` as UTF-8 (line endings kept as given)."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def random_table(size: int, seed: int = 0) -> np.ndarray:
    """A smooth-ish (3, D, D, D) table: identity plus noise."""
    rng = np.random.default_rng(seed)
    return identity_lut(size).numpy() + 0.1 * rng.standard_normal((3, size, size, size))


def as_image(colors: np.ndarray) -> torch.Tensor:
    """(P, 3) colors -> (1, 3, P, 1) float64 image."""
    return torch.from_numpy(np.ascontiguousarray(colors.T, dtype=np.float64))[None, :, :, None]


def as_colors(image: torch.Tensor) -> np.ndarray:
    """(1, 3, P, 1) image -> (P, 3) colors."""
    return image[0, :, :, 0].T.numpy()


def random_colors(count: int, low=0.0, high=1.0, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=(count, 3))


def colour_to_ours(table_rgb: np.ndarray) -> np.ndarray:
    """colour-science's (D, D, D, 3) [r, g, b, c] -> lutcli's (3, D, D, D) [c, b, g, r]."""
    return table_rgb.transpose(3, 2, 1, 0)


def only(lut_file: LutFile, kind: type) -> Lut1D | Lut3D:
    """The file's one table, checked to be of ``kind``."""
    assert isinstance(lut_file.lut, kind), lut_file.lut
    return lut_file.lut


def shaper_and_3d(lut_file: LutFile) -> tuple[Lut1D, Lut3D]:
    """The shaper and the 3D table of a Resolve shaper file."""
    lut = lut_file.lut
    assert isinstance(lut, LutSequence), lut
    assert [type(part) for part in lut.luts] == [Lut1D, Lut3D]
    return lut.luts[0], lut.luts[1]


def shaper_cube(title: str | None = None) -> LutFile:
    """A Resolve-style file: a square-root shaper on -0.25..4, then a 3D table on 0..2."""
    curve = np.sqrt(np.linspace(0.0, 1.0, 33))[:, None] * np.array([2.0, 1.9, 1.8])
    shaper = Lut1D(curve, -0.25, 4.0)
    return LutFile(
        LutSequence([shaper, Lut3D(random_table(9, seed=3), 0.0, 2.0)]),
        title=title,
        comments=["made by lutcli"],
    )


def applied(lut_file: LutFile, image: torch.Tensor, interp: str = "trilinear") -> torch.Tensor:
    """``image`` through the file's LUT with its 3D tables interpolated as ``interp``."""
    return lut_file.lut.with_interp(interp).apply(image)


# Round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 17, 65])
def test_round_trip_3d_with_title_and_comments(tmp_path, size):
    lut = Lut3D(random_table(size))
    write_cube(LutFile(lut, "My warm  look", ["first", "", "third"]), tmp_path / "look.cube")
    back = read_cube(tmp_path / "look.cube")
    assert back.title == "My warm  look" and back.format == "cube" and back.notes == []
    assert back.comments == ["first", "", "third"]
    table = only(back, Lut3D)
    assert table.size == size and table.interp == "trilinear"
    assert table.table.dtype == np.float32 and table.table.shape == (3,) + (size,) * 3
    np.testing.assert_allclose(table.table, lut.table, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(table.domain_min, np.zeros(3))
    np.testing.assert_array_equal(table.domain_max, np.ones(3))


def test_round_trip_1d(tmp_path):
    curve = np.linspace(0.0, 1.0, 1024)[:, None] ** np.array([0.5, 1.0, 2.2])
    write_cube(LutFile(Lut1D(curve), "curve"), tmp_path / "curve.cube")
    back = only(read_cube(tmp_path / "curve.cube"), Lut1D)
    assert back.size == 1024
    np.testing.assert_allclose(back.table, curve, rtol=0, atol=1e-6)


def test_round_trip_shaper_and_3d(tmp_path):
    cube = shaper_cube(title="shaped")
    shaper, lut3d = shaper_and_3d(cube)
    write_cube(cube, tmp_path / "shaped.cube")
    text = (tmp_path / "shaped.cube").read_text()
    assert "LUT_1D_INPUT_RANGE -0.25 4.0\n" in text and "LUT_3D_INPUT_RANGE 0.0 2.0\n" in text
    # OpenColorIO's Resolve reader rejects TITLE: the title becomes the first comment.
    assert "TITLE" not in text and "DOMAIN_" not in text
    back = read_cube(tmp_path / "shaped.cube")
    assert back.title is None and back.comments == ["shaped", "made by lutcli"]
    back_shaper, back_3d = shaper_and_3d(back)
    np.testing.assert_allclose(back_shaper.table, shaper.table, rtol=0, atol=1e-6)
    np.testing.assert_allclose(back_3d.table, lut3d.table, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(back_shaper.domain_min, [-0.25] * 3)
    np.testing.assert_array_equal(back_shaper.domain_max, [4.0] * 3)
    np.testing.assert_array_equal(back_3d.domain_min, [0.0] * 3)
    np.testing.assert_array_equal(back_3d.domain_max, [2.0] * 3)


def test_round_trip_domain_is_exact_and_follows_the_size(tmp_path):
    lut = Lut3D(random_table(5), [-0.1, 0.0, 1e-7], [1.5, 2.0, 0.3])
    write_cube(LutFile(lut), tmp_path / "domain.cube")
    lines = (tmp_path / "domain.cube").read_text().splitlines()
    # ffmpeg only honours DOMAIN_* lines that come after LUT_3D_SIZE.
    assert lines[:3] == ["LUT_3D_SIZE 5", "DOMAIN_MIN -0.1 0.0 0.0000001", "DOMAIN_MAX 1.5 2.0 0.3"]
    back = only(read_cube(tmp_path / "domain.cube"), Lut3D)
    np.testing.assert_array_equal(back.domain_min, lut.domain_min)
    np.testing.assert_array_equal(back.domain_max, lut.domain_max)


def test_format_writes_fixed_decimals_red_fastest_and_no_negative_zero():
    table = np.zeros((3, 2, 2, 2))
    table[0, 0, 0, 1] = 0.5  # red output at input (r=1, g=0, b=0): the second line
    table[2, 1, 1, 1] = -1e-9  # rounds to zero: written without a minus sign
    text = format_cube(LutFile(Lut3D(table)), decimals=4)
    assert (
        text.splitlines()
        == ["LUT_3D_SIZE 2", "0.0000 0.0000 0.0000", "0.5000 0.0000 0.0000"]
        + ["0.0000 0.0000 0.0000"] * 6
    )


@pytest.mark.parametrize(
    ("lut", "message"),
    [
        (Lut3D(np.full((3, 2, 2, 2), np.nan)), "non-finite"),
        (Lut1D(np.zeros((65537, 3))), "LUT_1D_SIZE must be in 2..65536"),
        (
            LutSequence([Lut1D(np.zeros((2, 3))), Lut3D(np.zeros((3, 2, 2, 2)), 0, [1, 2, 1])]),
            "same domain on all channels",
        ),
    ],
    ids=["nan", "1d-too-long", "shaper-domain-per-channel"],
)
def test_format_rejects_what_no_cube_file_can_hold(lut, message):
    with pytest.raises(ValueError, match=message):
        format_cube(LutFile(lut))


def test_format_rejects_negative_decimals():
    with pytest.raises(ValueError, match="decimals must be a non-negative integer"):
        format_cube(LutFile(Lut3D(random_table(2))), decimals=-1)


def test_a_sequence_no_cube_layout_holds_is_baked_at_the_size_of_its_3d_table():
    """A 3D table then a curve (no .cube file holds that order) is written as one 3D table of
    the same size, equal to the sequence on every lattice point."""
    lut3d = Lut3D(random_table(9, seed=4))
    curve = Lut1D(np.linspace(0, 1, 64)[:, None] ** [0.5, 1.0, 2.0], -0.5, 1.5)
    sequence = LutSequence([lut3d, curve])
    back = only(parse_cube(format_cube(LutFile(sequence, "baked"))), Lut3D)
    assert back.size == 9
    lattice = identity_lut(9).double().reshape(1, 3, 81, 9)
    expected = sequence.apply(lattice).reshape(3, 9, 9, 9).numpy()
    np.testing.assert_allclose(back.table, expected, rtol=0, atol=1e-6)


def test_write_is_atomic(tmp_path, monkeypatch):
    path = write_text(tmp_path, "previous content")
    with pytest.raises(ValueError):
        write_cube(LutFile(Lut3D(np.full((3, 2, 2, 2), np.inf))), path)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(LutcliError, match="disk full"):
        write_cube(LutFile(Lut3D(random_table(3))), path)
    assert path.read_text() == "previous content"
    assert [p.name for p in tmp_path.iterdir()] == ["test.cube"]  # no temporary left behind


# Dialect features -------------------------------------------------------------------------------


def test_red_fastest_line_order(tmp_path):
    table = only(read_cube(write_text(tmp_path, "LUT_3D_SIZE 2\n" + LINES_2X2X2 + "\n")), Lut3D)
    for b in range(2):
        for g in range(2):
            for r in range(2):
                k = r + 2 * g + 4 * b
                assert table.table[:, b, g, r].tolist() == [k, 10 + k, 20 + k]
    # colour-science indexes [r, g, b]: the same file, the same values.
    theirs = colour.io.read_LUT(str(tmp_path / "test.cube")).table
    np.testing.assert_array_equal(np.float32(colour_to_ours(theirs)), table.table)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_comments_blank_lines_and_line_endings(tmp_path, newline):
    lines = ["# top", "", "LUT_3D_SIZE 2", "   ", *LINES_2X2X2.split("\n")]
    lines.insert(7, "# between data lines")
    lines.insert(9, "")
    lines.insert(10, "\t")
    cube = read_cube(write_text(tmp_path, newline.join(lines) + newline))
    plain = parse_cube("LUT_3D_SIZE 2\n" + LINES_2X2X2)
    np.testing.assert_array_equal(only(cube, Lut3D).table, only(plain, Lut3D).table)
    assert cube.comments == ["top", "between data lines"]


def test_bom_and_title_with_spaces(tmp_path):
    path = write_text(tmp_path, '\ufeffTITLE "Kodak  5219 (warm)"\nLUT_3D_SIZE 2\n' + LINES_2X2X2)
    assert read_cube(path).title == "Kodak  5219 (warm)"


def test_legacy_8bit_title(tmp_path):
    path = tmp_path / "latin1.cube"
    path.write_bytes(b'TITLE "caf\xe9"\nLUT_3D_SIZE 2\n' + LINES_2X2X2.encode())
    assert read_cube(path).title == "café"


def test_scientific_notation_plus_signs_and_tabs():
    text = "LUT_1D_SIZE 2\n+0.0e0\t-1.5E-01 \t 2e+00\n1.0\t+.5 1E1\n"
    np.testing.assert_array_equal(
        only(parse_cube(text), Lut1D).table, np.float32([[0, -0.15, 2], [1, 0.5, 10]])
    )


def test_keywords_in_any_order():
    text = 'DOMAIN_MAX 2 2 2\nTITLE "t"\nLUT_3D_SIZE 2\nDOMAIN_MIN -1 0 0\n' + LINES_2X2X2
    cube = parse_cube(text)
    assert cube.title == "t" and cube.notes == []
    np.testing.assert_array_equal(only(cube, Lut3D).domain_min, [-1, 0, 0])
    np.testing.assert_array_equal(only(cube, Lut3D).domain_max, [2, 2, 2])


def test_domain_min_max_for_1d_and_3d():
    one = parse_cube("LUT_1D_SIZE 2\nDOMAIN_MIN 0 -1 0.5\nDOMAIN_MAX 1 1 4\n0 0 0\n1 1 1\n")
    np.testing.assert_array_equal(only(one, Lut1D).domain_min, [0, -1, 0.5])
    np.testing.assert_array_equal(only(one, Lut1D).domain_max, [1, 1, 4])
    three = parse_cube("LUT_3D_SIZE 2\nDOMAIN_MAX 3 3 3\n" + LINES_2X2X2)
    np.testing.assert_array_equal(only(three, Lut3D).domain_min, [0, 0, 0])
    np.testing.assert_array_equal(only(three, Lut3D).domain_max, [3, 3, 3])


def test_resolve_input_ranges():
    three = only(parse_cube("LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE -0.5 2\n" + LINES_2X2X2), Lut3D)
    np.testing.assert_array_equal(three.domain_min, [-0.5] * 3)
    np.testing.assert_array_equal(three.domain_max, [2] * 3)
    one = only(parse_cube("LUT_1D_SIZE 2\nLUT_1D_INPUT_RANGE 0.0 4.0\n0 0 0\n1 1 1\n"), Lut1D)
    np.testing.assert_array_equal(one.domain_min, [0] * 3)
    np.testing.assert_array_equal(one.domain_max, [4] * 3)


def test_resolve_shaper_lines_come_before_the_3d_lines():
    text = (
        "LUT_1D_SIZE 3\nLUT_3D_SIZE 2\nLUT_1D_INPUT_RANGE 0 2\n"
        "0 0 0\n0.25 0.5 0.75\n1 1 1\n" + LINES_2X2X2
    )
    shaper, lut3d = shaper_and_3d(parse_cube(text))
    np.testing.assert_array_equal(shaper.table, [[0, 0, 0], [0.25, 0.5, 0.75], [1, 1, 1]])
    np.testing.assert_array_equal(shaper.domain_max, [2] * 3)
    plain = only(parse_cube("LUT_3D_SIZE 2\n" + LINES_2X2X2), Lut3D)
    np.testing.assert_array_equal(lut3d.table, plain.table)
    np.testing.assert_array_equal(lut3d.domain_max, [1] * 3)


# Resolve's video-range flags ---------------------------------------------------------------------


def video_range_cube(flags: str, table: str = IDENTITY_2X2X2) -> LutFile:
    return parse_cube(f"LUT_3D_SIZE 2\n{flags}{table}\n")


def test_video_range_flags_become_range_conversions_around_the_table():
    """LUT_IN_VIDEO_RANGE: full-range input goes into 64..940 (of 1023) before the table;
    LUT_OUT_VIDEO_RANGE: the table's 64..940 output comes back to full range."""
    lut = video_range_cube("LUT_IN_VIDEO_RANGE\nLUT_OUT_VIDEO_RANGE\n").lut
    assert isinstance(lut, LutSequence)
    assert [type(part) for part in lut.luts] == [Lut1D, Lut3D, Lut1D]
    assert (VIDEO_BLACK, VIDEO_WHITE) == (64 / 1023, 940 / 1023)
    np.testing.assert_array_equal(lut.domain_min, [0, 0, 0])
    np.testing.assert_array_equal(lut.domain_max, [1, 1, 1])


def test_video_range_in_and_out_around_an_identity_is_the_identity():
    lut = video_range_cube("LUT_OUT_VIDEO_RANGE\nLUT_IN_VIDEO_RANGE\n").lut
    colors = np.concatenate([np.eye(3), [[0, 0, 0], [1, 1, 1]], random_colors(200)])
    np.testing.assert_allclose(as_colors(lut.apply(as_image(colors))), colors, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("flag", "black", "white"),
    [("LUT_IN_VIDEO_RANGE", 64 / 1023, 940 / 1023), ("LUT_OUT_VIDEO_RANGE", 0.0, 1.0)],
)
def test_one_video_range_flag_alone(flag, black, white):
    """Only IN: an identity table shows where full-range black and white land in the table
    (64 and 940 of 1023). Only OUT: the table's own 0 and 1 are below black and above white
    (video range's footroom and headroom), clamped to full-range black and white."""
    lut = video_range_cube(flag + "\n").lut
    colors = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.25, 0.75]])
    out = as_colors(lut.apply(as_image(colors)))
    np.testing.assert_allclose(out[0], [black] * 3, rtol=0, atol=1e-6)
    np.testing.assert_allclose(out[1], [white] * 3, rtol=0, atol=1e-6)
    if flag == "LUT_IN_VIDEO_RANGE":
        expected = VIDEO_BLACK + colors[2] * (VIDEO_WHITE - VIDEO_BLACK)
    else:
        expected = (colors[2] - VIDEO_BLACK) / (VIDEO_WHITE - VIDEO_BLACK)
    np.testing.assert_allclose(out[2], expected, rtol=0, atol=1e-6)


def test_video_range_output_table_reaches_full_range_white():
    """A table made to output legal range (its white is 940/1023) gives full-range white."""
    legal = "\n".join(
        " ".join(f"{VIDEO_BLACK + int(v) * (VIDEO_WHITE - VIDEO_BLACK):.9f}" for v in line.split())
        for line in IDENTITY_2X2X2.split("\n")
    )
    lut = video_range_cube("LUT_OUT_VIDEO_RANGE\n", legal).lut
    colors = random_colors(50)
    np.testing.assert_allclose(as_colors(lut.apply(as_image(colors))), colors, atol=1e-6)


def test_video_range_with_a_shaper_converts_before_the_shaper():
    text = (
        "LUT_1D_SIZE 2\nLUT_3D_SIZE 2\nLUT_IN_VIDEO_RANGE\n0 0 0\n1 1 1\n" + IDENTITY_2X2X2 + "\n"
    )
    lut = parse_cube(text).lut
    assert [type(part) for part in lut.luts] == [Lut1D, Lut1D, Lut3D]
    out = as_colors(lut.apply(as_image(np.array([[0.0, 1.0, 0.5]]))))
    np.testing.assert_allclose(out[0], [VIDEO_BLACK, VIDEO_WHITE, (VIDEO_BLACK + VIDEO_WHITE) / 2])


def test_a_video_range_file_is_written_without_the_flags_giving_the_same_colors(tmp_path):
    """The flags are not written: with LUT_IN_VIDEO_RANGE the conversion becomes a 2-entry
    shaper before the 3D table (exact); with LUT_OUT_VIDEO_RANGE the conversion is baked into
    the table, exact too for a table whose values stay in video range (affine maps commute
    with interpolation)."""
    rng = np.random.default_rng(6)
    legal = VIDEO_BLACK + rng.uniform(0, 1, (27, 3)) * (VIDEO_WHITE - VIDEO_BLACK)
    table = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in legal)
    colors = np.concatenate([np.eye(3), [[0, 0, 0], [1, 1, 1]], random_colors(100)])
    for flag, kinds in [("LUT_IN_VIDEO_RANGE", [Lut1D, Lut3D]), ("LUT_OUT_VIDEO_RANGE", [Lut3D])]:
        cube = parse_cube(f"LUT_3D_SIZE 3\n{flag}\n{table}\n")
        write_cube(cube, tmp_path / "written.cube")
        text = (tmp_path / "written.cube").read_text()
        assert "VIDEO_RANGE" not in text and "LUT_3D_SIZE 3\n" in text
        back = read_cube(tmp_path / "written.cube").lut
        assert [type(part) for part in getattr(back, "luts", [back])] == kinds
        np.testing.assert_allclose(
            as_colors(back.apply(as_image(colors))),
            as_colors(cube.lut.apply(as_image(colors))),
            rtol=0,
            atol=2e-6,
            err_msg=flag,
        )


# Notes and hints --------------------------------------------------------------------------------


def test_an_unknown_keyword_is_passed_over_with_a_note_naming_file_and_line(tmp_path):
    path = write_text(tmp_path, "# c\nLUT_3D_SIZE 2\nLUT_FOO 3\nBAR\n" + LINES_2X2X2)
    cube = read_cube(path)
    assert cube.notes == [
        f"{path}:3: unknown keyword 'LUT_FOO' ignored",
        f"{path}:4: unknown keyword 'BAR' ignored",
    ]
    plain = parse_cube("LUT_3D_SIZE 2\n" + LINES_2X2X2)
    np.testing.assert_array_equal(only(cube, Lut3D).table, only(plain, Lut3D).table)


def test_a_1d_input_range_in_a_3d_file_hints_at_the_3d_keyword(tmp_path):
    path = write_text(tmp_path, "LUT_3D_SIZE 2\nLUT_1D_INPUT_RANGE 0 1\n" + LINES_2X2X2)
    assert_one_line_error(
        path, 2, "LUT_1D_INPUT_RANGE without LUT_1D_SIZE; did you mean LUT_3D_INPUT_RANGE?"
    )
    path = write_text(tmp_path, "LUT_1D_SIZE 2\nLUT_3D_INPUT_RANGE 0 1\n0 0 0\n1 1 1\n")
    assert_one_line_error(
        path, 2, "LUT_3D_INPUT_RANGE without LUT_3D_SIZE; did you mean LUT_1D_INPUT_RANGE?"
    )


def test_a_3dl_file_read_as_cube_says_so(tmp_path):
    """A .3dl file starts with its input mesh, integers from 0 to 1023: reading it as .cube
    fails with a hint at what it is."""
    mesh = " ".join(str(round(i * 1023 / 16)) for i in range(17))
    rows = "\n".join(f"{k % 2 * 4095} {k // 2 % 2 * 4095} {k // 4 * 4095}" for k in range(8))
    path = write_text(tmp_path, f"# from a grading system\n{mesh}\n{rows}\n", "look.cube")
    assert mesh.startswith("0 64 128 ") and mesh.endswith(" 1023")
    assert_one_line_error(path, None, "no LUT_1D_SIZE or LUT_3D_SIZE keyword")
    assert_one_line_error(path, None, "a .3dl file?")


# Agreement with colour-science as a second reader ---------------------------------------------


def test_colour_reads_hand_written_files_the_same(tmp_path):
    adobe = write_text(
        tmp_path,
        'TITLE "adobe"\nLUT_3D_SIZE 2\nDOMAIN_MIN -0.5 0 0.25\nDOMAIN_MAX 1 2 3.5\n' + LINES_2X2X2,
        "adobe.cube",
    )
    ours, theirs = only(read_cube(adobe), Lut3D), colour.io.read_LUT(str(adobe))
    np.testing.assert_array_equal(np.float32(colour_to_ours(theirs.table)), ours.table)
    np.testing.assert_array_equal(theirs.domain, [ours.domain_min, ours.domain_max])

    resolve = write_text(
        tmp_path,
        "# shaper\nLUT_1D_SIZE 3\nLUT_1D_INPUT_RANGE -0.1 3.0\nLUT_3D_SIZE 2\n"
        "LUT_3D_INPUT_RANGE 0 1.5\n0 0 0\n0.5 0.6 0.7\n1 1 1\n" + LINES_2X2X2,
        "resolve.cube",
    )
    (our_shaper, our_3d), (shaper, cube) = (
        shaper_and_3d(read_cube(resolve)),
        colour.io.read_LUT(str(resolve)),
    )
    np.testing.assert_array_equal(np.float32(shaper.table), our_shaper.table)
    np.testing.assert_array_equal(shaper.domain, [[-0.1] * 3, [3.0] * 3])
    np.testing.assert_array_equal(np.float32(colour_to_ours(cube.table)), our_3d.table)
    np.testing.assert_array_equal(cube.domain, [[0.0] * 3, [1.5] * 3])


def test_colour_reads_written_files_the_same(tmp_path):
    lut = Lut3D(random_table(7), [-0.1, 0, 0.2], [1.5, 2, 1.2])
    write_cube(LutFile(lut, "3d"), tmp_path / "3d.cube")
    theirs = colour.io.read_LUT(str(tmp_path / "3d.cube"))
    assert isinstance(theirs, colour.LUT3D) and theirs.name == "3d"
    np.testing.assert_allclose(colour_to_ours(theirs.table), lut.table, rtol=0, atol=1e-6)
    np.testing.assert_allclose(theirs.domain, [lut.domain_min, lut.domain_max])

    curve = Lut1D(np.linspace(0, 1, 64)[:, None] ** np.array([0.4, 1.0, 2.5]), -1.0, 2.0)
    write_cube(LutFile(curve), tmp_path / "1d.cube")
    theirs = colour.io.read_LUT(str(tmp_path / "1d.cube"))
    np.testing.assert_allclose(theirs.table, curve.table, rtol=0, atol=1e-6)
    np.testing.assert_allclose(theirs.domain, [[-1.0] * 3, [2.0] * 3])

    cube = shaper_cube()
    our_shaper, our_3d = shaper_and_3d(cube)
    write_cube(cube, tmp_path / "shaped.cube")
    shaper, lut3d = colour.io.read_LUT(str(tmp_path / "shaped.cube"))
    np.testing.assert_allclose(shaper.table, our_shaper.table, rtol=0, atol=1e-6)
    np.testing.assert_allclose(colour_to_ours(lut3d.table), our_3d.table, rtol=0, atol=1e-6)
    np.testing.assert_allclose(shaper.domain, [[-0.25] * 3, [4.0] * 3])
    np.testing.assert_allclose(lut3d.domain, [[0.0] * 3, [2.0] * 3])


# Errors ----------------------------------------------------------------------------------------


def assert_one_line_error(path: Path, line: int | None, fragment: str) -> None:
    with pytest.raises(LutFormatError) as caught:
        read_cube(path)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert message.startswith(prefix), message
    assert fragment in message, message


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            "LUT_3D_SIZE 2\n" + "\n".join(LINES_2X2X2.split("\n")[:7]),
            None,
            "expected 8 table lines for LUT_3D_SIZE 2, found 7 (file truncated?)",
        ),
        ("LUT_3D_SIZE 2\n" + LINES_2X2X2 + "\n\n1 2 3\n", 11, "expected 8 table lines"),
        (
            "LUT_1D_SIZE 4\nLUT_3D_SIZE 2\n0 0 0\n1 1 1\n" + LINES_2X2X2,
            None,
            "expected 12 table lines for LUT_1D_SIZE 4 + LUT_3D_SIZE 2, found 10",
        ),
        ("LUT_3D_SIZE 2\n0 0 0\n\n0.5 0.5\n", 4, "expected 3 numbers, found 2"),
        ("LUT_3D_SIZE 2\n0 0 0\n0 zero 0\n", 3, "not a number: 'zero'"),
        ("LUT_3D_SIZE 2\n0 0 0\nhello\n", 3, "not a number: 'hello'"),
        ("LUT_3D_SIZE 2\n0 0 0\nnan 0 0\n", 3, "not a finite float32 number: 'nan'"),
        ("LUT_3D_SIZE 2\n0 0 0\n1e39 0 0\n", 3, "not a finite float32 number: '1e39'"),
        ("# only a comment\n\n", None, "empty file"),
        ("", None, "empty file"),
        ('TITLE "no size"\n' + LINES_2X2X2, None, "no LUT_1D_SIZE or LUT_3D_SIZE keyword"),
        ("# c\nLUT_3D_SIZE 1\n0 0 0\n", 2, "LUT_3D_SIZE must be an integer in 2..256, found '1'"),
        ("LUT_3D_SIZE 257\n", 1, "LUT_3D_SIZE must be an integer in 2..256"),
        ("LUT_3D_SIZE 2.5\n", 1, "LUT_3D_SIZE must be an integer"),
        ("LUT_1D_SIZE 65537\n", 1, "LUT_1D_SIZE must be an integer in 2..65536"),
        (
            "LUT_3D_SIZE 2\nDOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 0 1\n" + LINES_2X2X2,
            3,
            "must be below DOMAIN_MAX",
        ),
        ("LUT_3D_SIZE 2\nDOMAIN_MIN 0 0\n" + LINES_2X2X2, 2, "DOMAIN_MIN expects 3 numbers"),
        ("LUT_3D_SIZE 2\nDOMAIN_MIN 0 x 0\n" + LINES_2X2X2, 2, "DOMAIN_MIN: not a number: 'x'"),
        ("LUT_3D_SIZE 2\nDOMAIN_MAX 1 inf 1\n" + LINES_2X2X2, 2, "numbers must be finite"),
        ("LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 1 1\n" + LINES_2X2X2, 2, "needs min < max"),
        (
            "LUT_3D_SIZE 2\nDOMAIN_MIN 0 0 0\nLUT_3D_INPUT_RANGE 0 1\n" + LINES_2X2X2,
            3,
            "LUT_3D_INPUT_RANGE conflicts with DOMAIN_MIN",
        ),
        ("LUT_3D_SIZE 2\nLUT_1D_INPUT_RANGE 0 1\n" + LINES_2X2X2, 2, "without LUT_1D_SIZE"),
        (
            "LUT_1D_SIZE 2\nLUT_3D_SIZE 2\nDOMAIN_MAX 2 2 2\n",
            3,
            "DOMAIN_MAX is ambiguous with both a 1D and a 3D table",
        ),
        ("LUT_3D_SIZE 2\nLUT_3D_SIZE 2\n", 2, "LUT_3D_SIZE given twice (first on line 1)"),
        ("LUT_3D_SIZE 2\n0 0 0\nDOMAIN_MIN 0 0 0\n", 3, "keyword DOMAIN_MIN after the table"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path, text, line, fragment):
    assert_one_line_error(write_text(tmp_path, text, "bad.cube"), line, fragment)


def test_error_for_missing_file_folder_and_binary_data(tmp_path):
    assert_one_line_error(tmp_path / "missing.cube", None, "no such file")
    (tmp_path / "folder.cube").mkdir()
    assert_one_line_error(tmp_path / "folder.cube", None, "is a folder")
    (tmp_path / "image.cube").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert_one_line_error(tmp_path / "image.cube", None, "binary data")


def test_parse_cube_names_its_source():
    with pytest.raises(LutFormatError, match=r"^preset:2: expected 3 numbers, found 4$"):
        parse_cube("LUT_1D_SIZE 2\n0 0 0 0\n", source="preset")


# Applying --------------------------------------------------------------------------------------


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
def test_identity_3d_returns_the_image(interp):
    cube = LutFile(Lut3D(identity_lut(17).numpy()))
    image = torch.rand(2, 3, 5, 7, dtype=torch.float64)
    torch.testing.assert_close(applied(cube, image, interp), image, rtol=0, atol=1e-6)


def test_1d_applies_per_channel_curves_like_np_interp():
    curve = Lut1D(np.linspace(0, 1, 9)[:, None] ** np.array([0.5, 1.0, 3.0]) * 2, -0.5, 1.5)
    colors = random_colors(200, -1.0, 2.0)  # includes inputs outside the domain: clamped
    ours = as_colors(applied(LutFile(curve), as_image(colors)))
    grid = np.linspace(-0.5, 1.5, 9)
    for c in range(3):
        np.testing.assert_allclose(
            ours[:, c], np.interp(colors[:, c], grid, curve.table[:, c]), atol=1e-6
        )


def test_3d_clamps_inputs_outside_the_domain():
    lut = Lut3D(random_table(5), -0.5, 2.0)
    colors = random_colors(100, -2.0, 4.0)
    ours = lut.apply(as_image(colors))
    torch.testing.assert_close(ours, lut.apply(as_image(np.clip(colors, -0.5, 2.0))))


def test_shaper_then_3d():
    cube = shaper_cube()
    shaper, lut3d = shaper_and_3d(cube)
    image = as_image(random_colors(300, -0.25, 4.0))
    expected = lut3d.with_interp("tetrahedral").apply(shaper.apply(image))
    torch.testing.assert_close(applied(cube, image, "tetrahedral"), expected)


def test_apply_agrees_with_colour_on_non_default_domains(tmp_path):
    cases = {
        "3d.cube": (
            LutFile(Lut3D(random_table(9), [-0.1, 0, 0.2], [1.5, 2, 1.2])),
            [-0.1, 0, 0.2],
            [1.5, 2, 1.2],
        ),
        "1d.cube": (
            LutFile(Lut1D(np.sqrt(np.linspace(0, 1, 50))[:, None] * [1, 2, 3], -1, 3)),
            -1,
            3,
        ),
        "shaped.cube": (shaper_cube(), -0.25, 4.0),
    }
    for name, (cube, low, high) in cases.items():
        write_cube(cube, tmp_path / name)
        colors = np.random.default_rng(2).uniform(low, high, size=(500, 3))
        ours = as_colors(read_cube(tmp_path / name).lut.apply(as_image(colors)))
        theirs = colour.io.read_LUT(str(tmp_path / name)).apply(colors)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5, err_msg=name)


def test_apply_rejects_a_wrong_image_shape():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        Lut1D(np.zeros((2, 3))).apply(torch.zeros(3, 4, 4))


# Other software loading written files ----------------------------------------------------------


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not on PATH")
@pytest.mark.parametrize(
    ("filter_name", "cube"),
    [
        ("lut3d", LutFile(Lut3D(random_table(33)), "ffmpeg", ["a comment"])),
        ("lut3d", LutFile(Lut3D(random_table(5), [0, -0.5, 0], [1, 1, 2]))),
        ("lut1d", LutFile(Lut1D(np.linspace(0, 1, 256)[:, None] ** [0.5, 1, 2]))),
    ],
)
def test_ffmpeg_loads_written_file(tmp_path, filter_name, cube):
    path = tmp_path / "for_ffmpeg.cube"
    write_cube(cube, path)
    command = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=8x8"]
    command += ["-vf", f"{filter_name}=file={path}", "-frames:v", "1", "-f", "null", "-"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "cube",
    [
        LutFile(Lut3D(random_table(17)), "ocio 3d", ["a comment"]),
        LutFile(Lut3D(random_table(9), [-0.1, 0, 0.2], [1.5, 2, 1.2])),
        LutFile(Lut1D(np.linspace(0, 1, 64)[:, None] ** [0.5, 1, 2], 0, 2), "ocio 1d"),
        shaper_cube(title="ocio shaped"),
        # Read with LUT_IN_VIDEO_RANGE: written as a 2-entry shaper before the table.
        parse_cube(
            format_cube(LutFile(Lut3D(random_table(5)))).replace("\n", "\nLUT_IN_VIDEO_RANGE\n", 1)
        ),
    ],
    ids=["3d", "3d-domain", "1d", "shaper-3d", "video-range-in"],
)
def test_opencolorio_agrees_with_apply(tmp_path, cube):
    path = tmp_path / "for_ocio.cube"  # tmp_path differs per case: OCIO caches files by path
    write_cube(cube, path)
    config = ocio.Config.CreateRaw()
    transform = ocio.FileTransform(src=str(path), interpolation=ocio.INTERP_LINEAR)
    processor = config.getProcessor(transform).getDefaultCPUProcessor()
    colors = random_colors(64, -0.2, 2.2).astype(np.float32)
    theirs = colors.copy()
    processor.applyRGB(theirs)
    ours = as_colors(cube.lut.apply(as_image(colors)))
    np.testing.assert_allclose(theirs, ours, rtol=0, atol=1e-4)


# Reading large files: streaming, exact, bounded -------------------------------------------------


def python_rows(text: str) -> np.ndarray:
    """The table rows of ``text`` (after its keyword lines) as float() reads them, in float32."""
    rows = [
        [float(token) for token in line.split()]
        for line in text.splitlines()
        if line.strip() and not line.strip()[0].isalpha() and not line.strip().startswith("#")
    ]
    return np.array(rows, dtype=np.float64).astype(np.float32)


def table_rows(cube: LutFile) -> np.ndarray:
    return only(cube, Lut3D).table.transpose(1, 2, 3, 0).reshape(-1, 3)


@pytest.mark.parametrize(
    "row_format",
    [
        "{:.6f} {:.6f} {:.6f}",  # fixed width: read by columns
        "{:.10f}\t{:.10f}  {:.10f} ",  # fixed width, tabs and trailing space
        "{:.15f} {:.15f} {:.15f}",  # 17 digits: too many to read by columns
        "{:.6g} {:.6g} {:.6g}",  # widths differ: read in bulk
        "{:+.4e} {:.3e} {:.9}",  # exponents and signs
    ],
)
@pytest.mark.parametrize("signs", ["positive", "mixed"])
def test_every_way_of_printing_numbers_reads_as_float_does(row_format, signs):
    rng = np.random.default_rng(5)
    values = rng.uniform(0, 1, (5**3, 3))
    if signs == "mixed":
        values[::3] *= -1
    text = "LUT_3D_SIZE 5\n" + "".join(row_format.format(*row) + "\n" for row in values)
    np.testing.assert_array_equal(table_rows(parse_cube(text)), python_rows(text))


@pytest.mark.parametrize("block_bytes", [5, 16, 100])
def test_the_text_is_read_the_same_in_blocks_of_any_size(tmp_path, monkeypatch, block_bytes):
    """Block edges fall inside lines, inside '\\r\\n', inside comments and the header."""
    lines = [
        "# top",
        'TITLE "t"',
        "LUT_1D_SIZE 3",
        "LUT_3D_SIZE 2",
        "LUT_SOMETHING_ELSE",
        "0 0 0",
        "# mid",
        "0.5 0.5 0.5",
    ]
    lines += ["", "1 1 1", *LINES_2X2X2.split("\n")]
    for newline in ("\n", "\r\n", "\r"):
        path = write_text(tmp_path, newline.join(lines) + newline)
        expected = read_cube(path)
        monkeypatch.setattr("lutcli.lut.formats.cube._BLOCK_BYTES", block_bytes)
        cube = read_cube(path)
        monkeypatch.undo()
        for part, expected_part in zip(shaper_and_3d(cube), shaper_and_3d(expected), strict=True):
            np.testing.assert_array_equal(part.table, expected_part.table)
        assert cube.comments == expected.comments == ["top", "mid"] and cube.title == "t"
        assert cube.notes == [f"{path}:5: unknown keyword 'LUT_SOMETHING_ELSE' ignored"]


@pytest.mark.parametrize("block_bytes", [7, 64, 1 << 22])
@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("LUT_3D_SIZE 2\n" + LINES_2X2X2 + "\n\n1 2 3\n", 11, "expected 8 table lines"),
        ("LUT_3D_SIZE 2\n0 0 0\n# c\n\n0.5 0.5\n", 5, "expected 3 numbers, found 2"),
        ("LUT_3D_SIZE 2\n0 0 0\n0 1-2 0\n", 3, "not a number: '1-2'"),
        ("LUT_3D_SIZE 2\n" + "0.5 0.5 0.5\n" * 5 + "0.5 0.5 1e39\n", 7, "not a finite"),
        ("LUT_3D_SIZE 2\n" + "0.5 0.5 0.5\n" * 5 + "0.5 0.5 0.5 0.5\n", 7, "found 4"),
    ],
)
def test_errors_name_the_line_whatever_the_blocks(
    tmp_path, monkeypatch, block_bytes, text, line, fragment
):
    monkeypatch.setattr("lutcli.lut.formats.cube._BLOCK_BYTES", block_bytes)
    assert_one_line_error(write_text(tmp_path, text, "bad.cube"), line, fragment)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """A 256³ .cube took 45 s and several GB to read; the limit is a setting a user can raise."""
    path = tmp_path / "big.cube"
    write_cube(LutFile(Lut3D(random_table(65))), path)  # 7 MB of text
    monkeypatch.setenv("LUTCLI_MAX_LUT_MB", "2")
    assert_one_line_error(path, None, "more than the 2 MiB a LUT file may have")
    with pytest.raises(LutFormatError, match="set LUTCLI_MAX_LUT_MB to raise the limit"):
        read_cube(path)
    monkeypatch.setenv("LUTCLI_MAX_LUT_MB", "8")
    assert only(read_cube(path), Lut3D).size == 65


def test_reading_takes_about_the_memory_of_the_table(tmp_path):
    """Memory is the table's own (3 x 97³ float32 = 11 MB) plus a block, not the text's many
    times over (the whole text, a string per line and per number)."""
    import tracemalloc

    path = tmp_path / "big.cube"
    lut = Lut3D(random_table(97))
    write_cube(LutFile(lut), path)
    tracemalloc.start()
    try:
        cube = read_cube(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < lut.table.nbytes + 24 * 2**20, f"{peak / 2**20:.0f} MiB"
    np.testing.assert_allclose(only(cube, Lut3D).table, lut.table, atol=5e-7)


def test_a_file_of_endless_comments_keeps_a_bounded_part_of_them():
    text = "# " + "x" * 1000 + "\n"
    cube = parse_cube(text * 2000 + "LUT_3D_SIZE 2\n" + LINES_2X2X2)
    assert 0 < sum(len(c) for c in cube.comments) <= 2**20


# Files other tools wrote (colour-science's test resources, BSD-3: tests/resources/luts) ---------

RESOURCES = Path(__file__).parents[2] / "resources" / "luts"
# name: (what lutcli reads, whether OpenColorIO reads it: its Resolve reader refuses a TITLE).
WRITTEN_ELSEWHERE = {
    "Colour_Correct.cube": (Lut3D, True),  # Nuke (Foundry::LUT), Adobe dialect
    "ACES_Proxy_10_to_ACES.cube": (Lut1D, True),  # outputs up to 704
    "LogC_Video.cube": (LutSequence, False),  # Resolve: a 1D tone map, then a 3D table
    "Three_Dimensional_Table_With_Shaper.cube": (LutSequence, False),  # input range -0.1..3
}


def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    """The largest difference, relative to the value where it is above 1."""
    return float((np.abs(ours - theirs) / np.maximum(1, np.abs(theirs))).max())


@pytest.mark.parametrize("name", WRITTEN_ELSEWHERE)
def test_files_other_tools_wrote_apply_as_colour_and_opencolorio_apply_them(name):
    kind, ocio_reads = WRITTEN_ELSEWHERE[name]
    path = RESOURCES / name
    lut_file = read_cube(path)
    assert isinstance(lut_file.lut, kind) and lut_file.notes == []
    colors = sample_colors(0, 1)
    ours = through_lutcli(lut_file.lut, colors)
    theirs = colour.io.read_LUT(str(path)).apply(colors.astype(np.float64))
    assert relative_difference(ours, theirs) < 1e-6  # measured: 5e-8
    if ocio_reads:
        assert relative_difference(ours, through_ocio(path, colors)) < 1e-5  # 6e-7
    else:
        with pytest.raises(ocio.Exception):
            through_ocio(path, colors)
