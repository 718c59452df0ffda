""".spi1d and .spi3d reading and writing: hand-written files and files of OpenColorIO's and
colour-science's test data, OpenColorIO applying them (and what lutcli writes) as lutcli does,
colour-science reading the same tables, and one-line errors naming the file and line."""

from __future__ import annotations

from pathlib import Path

import colour
import numpy as np
import pytest

from lut_format_support import (
    random_table,
    sample_colors,
    through_lutcli,
    through_ocio,
    write_text,
)
from lutcli.errors import LutcliError, LutFormatError
from lutcli.lut.formats import detect_format, read_lut, write_lut
from lutcli.lut.formats.spi1d import format_spi1d, read_spi1d, write_spi1d
from lutcli.lut.formats.spi3d import format_spi3d, read_spi3d, write_spi3d
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence, bake

RESOURCES = Path(__file__).parents[2] / "resources" / "luts"
# OpenColorIO computes in float32: agreement within this, on outputs of about 0..1.
OCIO_TOLERANCE = 1e-5


def curves(size: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """(size, 3) curves over low..high: a different gamma per channel."""
    x = np.linspace(0.0, 1.0, size)[:, None]
    return x ** np.array([0.45, 1.0, 2.2]) * (high - low) + low


def colour_apply(path: Path, colors: np.ndarray) -> np.ndarray:
    """(P, 3) colors through colour-science's reading of ``path``, clamped at its domain."""
    lut = colour.io.read_LUT(str(path))
    return lut.apply(colors.astype(np.float64), extrapolator_kwargs={"method": "Constant"})


# .spi1d ----------------------------------------------------------------------------------------

SPI1D_ONE_COMPONENT = """Version 1
From -0.5 1.5
Length 5
Components 1
{
    0.0
    0.1
    0.3
    0.6
    1.0
}
"""


def test_spi1d_round_trip_keeps_the_curves_the_domain_and_the_comments(tmp_path):
    lut = Lut1D(curves(1024), -0.125, 1.125)
    write_spi1d(LutFile(lut, "warm curve", ["made by lutcli", "two"]), tmp_path / "c.spi1d")
    text = (tmp_path / "c.spi1d").read_text()
    assert text.startswith("Version 1\nFrom -0.125 1.125\nLength 1024\nComponents 3\n{\n")
    assert text.endswith("}\n# warm curve\n# made by lutcli\n# two\n")
    back = read_spi1d(tmp_path / "c.spi1d")
    # .spi1d has no title: it comes back as the first comment.
    assert back.format == "spi1d" and back.title is None and back.notes == []
    assert back.comments == ["warm curve", "made by lutcli", "two"]
    np.testing.assert_allclose(back.lut.table, lut.table, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(back.lut.domain_min, [-0.125] * 3)
    np.testing.assert_array_equal(back.lut.domain_max, [1.125] * 3)


def test_spi1d_one_component_is_the_same_curve_on_every_channel(tmp_path):
    path = write_text(tmp_path, "one.spi1d", SPI1D_ONE_COMPONENT)
    lut = read_spi1d(path).lut
    expected = np.repeat([[0.0], [0.1], [0.3], [0.6], [1.0]], 3, axis=1)
    np.testing.assert_array_equal(lut.table, np.float32(expected))
    np.testing.assert_array_equal(lut.domain_min, [-0.5] * 3)
    np.testing.assert_array_equal(lut.domain_max, [1.5] * 3)


def test_spi1d_two_components_leave_blue_at_zero_as_opencolorio_reads_them(tmp_path):
    text = "Version 1\nFrom 0 1\nLength 2\nComponents 2\n{\n0 0.5\n1 0.25\n}\n"
    lut = read_spi1d(write_text(tmp_path, "two.spi1d", text)).lut
    np.testing.assert_array_equal(lut.table, np.float32([[0, 0.5, 0], [1, 0.25, 0]]))


def test_spi1d_without_from_spans_0_to_1_and_other_header_lines_are_noted(tmp_path):
    text = "Version 1\nLength 2\nComponents 1\nInterpolation nearest\n{\n0.25\n0.75\n}\ntail\n"
    lut_file = read_spi1d(write_text(tmp_path, "c.spi1d", text))
    np.testing.assert_array_equal(lut_file.lut.domain_min, [0.0] * 3)
    np.testing.assert_array_equal(lut_file.lut.domain_max, [1.0] * 3)
    assert lut_file.notes == [
        f"{tmp_path / 'c.spi1d'}:4: 'Interpolation nearest' passed over",
        f"{tmp_path / 'c.spi1d'}: 1 line(s) after '}}' passed over",
    ]


@pytest.mark.parametrize(
    "path_name",
    ["hand-written one component", "written", "OpenColorIO's lut1d_1.spi1d"],
)
def test_opencolorio_and_colour_apply_spi1d_files_as_lutcli_does(tmp_path, path_name):
    if path_name == "hand-written one component":
        path = write_text(tmp_path, "one.spi1d", SPI1D_ONE_COMPONENT)
    elif path_name == "written":
        path = tmp_path / "written.spi1d"
        write_spi1d(LutFile(Lut1D(curves(256, -0.1, 1.1), -0.25, 2.0)), path)
    else:
        path = RESOURCES / "lut1d_1.spi1d"
    lut = read_spi1d(path).lut
    colors = sample_colors(-0.7, 2.3)  # outside the domains too: clamped alike
    ours = through_lutcli(lut, colors)
    np.testing.assert_allclose(ours, through_ocio(path, colors), rtol=0, atol=OCIO_TOLERANCE)
    np.testing.assert_allclose(ours, colour_apply(path, colors), rtol=0, atol=1e-6)


def test_colour_reads_the_spi1d_table_lutcli_reads(tmp_path):
    path = tmp_path / "three.spi1d"
    write_spi1d(LutFile(Lut1D(curves(64), -1.0, 3.0)), path)
    theirs = colour.io.read_LUT(str(path))
    np.testing.assert_array_equal(np.float32(theirs.table), read_spi1d(path).lut.table)
    np.testing.assert_array_equal(theirs.domain, [[-1.0] * 3, [3.0] * 3])


def test_spi1d_refuses_what_it_cannot_hold(tmp_path):
    for lut in (Lut3D(random_table(5)), LutSequence([Lut1D(curves(8)), Lut3D(random_table(3))])):
        with pytest.raises(ValueError, match=r"^a \.spi1d holds a 1D LUT$"):
            format_spi1d(LutFile(lut))
        with pytest.raises(LutcliError, match=r"cannot write .*as spi1d: a \.spi1d holds a 1D"):
            write_lut(lut, tmp_path / "out.spi1d")
    assert not (tmp_path / "out.spi1d").exists()
    with pytest.raises(ValueError, match="same input domain on all channels"):
        format_spi1d(LutFile(Lut1D(curves(8), [0, 0, -1], 1)))
    with pytest.raises(ValueError, match="non-finite"):
        format_spi1d(LutFile(Lut1D(np.full((4, 3), np.nan))))


SPI1D_HEADER = "Version 1\nFrom 0 1\nLength 3\nComponents 1\n{\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Version 2\nLength 2\nComponents 1\n{\n}\n", 1, "Version 2: only Version 1 is known"),
        ("Version 1\nComponents 1\n{\n0\n1\n}\n", 3, "no 'Length' line before the table"),
        ("Version 1\nLength 2\nComponents 1\n0\n1\n", 5, "no '{' starting the table"),
        ("Version 1\nLength 1\nComponents 1\n{\n0\n}\n", 2, "Length must be in 2..300000"),
        ("Version 1\nLength x\nComponents 1\n{\n}\n", 2, "'Length' needs one whole number"),
        ("Version 1\nLength 2\nComponents 4\n{\n}\n", 3, "Components must be 1, 2 or 3"),
        ("Version 1\nFrom 1 0\nLength 2\nComponents 1\n{\n0\n1\n}\n", 2, "From needs min < max"),
        ("Version 1\nFrom 0\nLength 2\nComponents 1\n{\n}\n", 2, r"expected 2 numbers \(From"),
        ("Version 1\nLength 2\nLength 2\n", 3, r"'Length' given twice \(first on line 2\)"),
        (SPI1D_HEADER + "0\n0.5\n}\n", 8, "'}' after 2 of the 3 table lines"),
        (SPI1D_HEADER + "0\n0.5\n1\n2\n}\n", 9, "expected '}' after the 3 table lines"),
        (SPI1D_HEADER + "0\n0.5 0.5\n1\n}\n", 7, r"expected 1 numbers \(one per component\)"),
        (SPI1D_HEADER + "0\nhalf\n1\n}\n", 7, "not a number: 'half'"),
        (SPI1D_HEADER + "0\n1e39\n1\n}\n", 7, "not a finite float32 number: '1e39'"),
        (SPI1D_HEADER + "0\n0.5\n", 7, "the file ends after 2 of the 3 table lines"),
        (SPI1D_HEADER + "0\n0.5\n1\n", 8, "the file ends where '}' ending the table was"),
    ],
)
def test_spi1d_errors_name_the_file_and_line(tmp_path, text, line, message):
    path = write_text(tmp_path, "bad.spi1d", text)
    with pytest.raises(LutFormatError, match=rf"^{path}:{line}: {message}") as caught:
        read_lut(path)
    assert "\n" not in str(caught.value)


# .spi3d ----------------------------------------------------------------------------------------


def spi3d_text(table: np.ndarray, order: np.ndarray | None = None) -> str:
    """A .spi3d file of the (3, D, D, D) ``table``, its lines in ``order`` (default blue
    fastest), written independently of lutcli's writer."""
    size = table.shape[-1]
    lines = [
        f"{r} {g} {b} {table[0, b, g, r]!r} {table[1, b, g, r]!r} {table[2, b, g, r]!r}"
        for r in range(size)
        for g in range(size)
        for b in range(size)
    ]
    if order is not None:
        lines = [lines[i] for i in order]
    return f"SPILUT 1.0\n3 3\n{size} {size} {size}\n" + "\n".join(lines) + "\n"


def test_spi3d_indices_are_red_green_blue(tmp_path):
    # Each point's output is its own indices: the identity, whichever axis is fastest.
    size = 3
    table = identity_lut(size).numpy().astype(np.float64) * (size - 1)
    lut = read_spi3d(write_text(tmp_path, "id.spi3d", spi3d_text(table))).lut
    colors = sample_colors(0.0, 1.0)
    np.testing.assert_allclose(through_lutcli(lut, colors), colors * (size - 1), rtol=0, atol=1e-5)


def test_spi3d_lines_may_come_in_any_order(tmp_path):
    table = random_table(5).astype(np.float64)
    shuffled = np.random.default_rng(2).permutation(5**3)
    ordered = read_spi3d(write_text(tmp_path, "ordered.spi3d", spi3d_text(table)))
    path = write_text(tmp_path, "shuffled.spi3d", spi3d_text(table, shuffled))
    lut = read_spi3d(path).lut
    np.testing.assert_array_equal(lut.table, np.float32(table))
    np.testing.assert_array_equal(lut.table, ordered.lut.table)
    colors = sample_colors()
    np.testing.assert_allclose(
        through_lutcli(lut, colors), through_ocio(path, colors), atol=OCIO_TOLERANCE
    )


def test_spi3d_round_trip_writes_blue_fastest_and_keeps_the_comments(tmp_path):
    lut = Lut3D(random_table(17))
    write_spi3d(LutFile(lut, "look", ["made by lutcli"]), tmp_path / "look.spi3d")
    lines = (tmp_path / "look.spi3d").read_text().splitlines()
    assert lines[:3] == ["SPILUT 1.0", "3 3", "17 17 17"]
    assert [line.split()[:3] for line in lines[3:5]] == [["0", "0", "0"], ["0", "0", "1"]]
    assert lines[-2:] == ["# look", "# made by lutcli"]
    back = read_spi3d(tmp_path / "look.spi3d")
    assert back.format == "spi3d" and back.title is None and back.notes == []
    assert back.comments == ["look", "made by lutcli"]
    np.testing.assert_allclose(back.lut.table, lut.table, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "name",
    ["written", "OpenColorIO's lut3d_bizarre.spi3d", "colour's Colour_Correct_Unordered.spi3d"],
)
def test_opencolorio_and_colour_apply_spi3d_files_as_lutcli_does(tmp_path, name):
    if name == "written":
        path = tmp_path / "written.spi3d"
        write_spi3d(LutFile(Lut3D(random_table(9, seed=4))), path)
    else:
        path = RESOURCES / name.split()[-1]
    lut = read_spi3d(path).lut
    colors = sample_colors()
    ours = through_lutcli(lut, colors)
    np.testing.assert_allclose(ours, through_ocio(path, colors), rtol=0, atol=OCIO_TOLERANCE)
    np.testing.assert_allclose(ours, colour_apply(path, colors.clip(0, 1)), rtol=0, atol=1e-6)
    # colour-science indexes its table [r, g, b, c], lutcli [c, b, g, r].
    theirs = colour.io.read_LUT(str(path)).table.transpose(3, 2, 1, 0)
    np.testing.assert_array_equal(np.float32(theirs), lut.table)


def test_spi3d_bakes_what_is_not_one_3d_table_and_refuses_other_domains(tmp_path):
    shaped = LutSequence([Lut1D(curves(64)), Lut3D(random_table(9))])
    write_lut(shaped, tmp_path / "baked.spi3d")
    back = read_lut(tmp_path / "baked.spi3d").lut
    assert back.size == 9  # the size of its largest 3D table
    np.testing.assert_allclose(back.table, bake(shaped, 9).table, rtol=0, atol=1e-6)
    curve = Lut1D(curves(64))
    write_lut(curve, tmp_path / "curve.spi3d")
    assert read_lut(tmp_path / "curve.spi3d").lut.size == 33
    for lut in (Lut3D(random_table(5), -0.5, 1.0), Lut1D(curves(8), 0.0, 2.0)):
        with pytest.raises(LutcliError, match=r"\.spi3d tables span 0\.\.1; this LUT's input"):
            write_lut(lut, tmp_path / "domain.spi3d")
    with pytest.raises(ValueError, match=r"lattice size must be in 2\.\.129"):
        format_spi3d(LutFile(Lut3D(np.zeros((3, 130, 130, 130)))))
    assert not (tmp_path / "domain.spi3d").exists()


SPI3D_HEADER = "SPILUT 1.0\n3 3\n2 2 2\n"
SPI3D_BODY = "".join(f"{i & 1} {i >> 1 & 1} {i >> 2} 0 0 0\n" for i in range(8))


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("SPILUT 1.0\n3 3\n", 2, "the file ends where the lattice size 'N N N' was expected"),
        ("SPILUT 1.0\n3 1\n2 2 2\n", 2, "expected '3 3' \\(3 inputs, 3 outputs\\)"),
        ("SPILUT 1.0\n3 3\n2 2 3\n", 3, r"lattice sizes differ \(2 2 3\): lutcli reads cubes"),
        ("SPILUT 1.0\n3 3\n1 1 1\n", 3, r"lattice size must be in 2\.\.129"),
        ("SPILUT 1.0\n3 3\n2 x 2\n", 3, "expected the lattice size 'N N N', found '2 x 2'"),
        (SPI3D_HEADER + SPI3D_BODY[:-12] + "1 1 1\n", 11, r"expected 6 numbers \(red, green"),
        (SPI3D_HEADER + SPI3D_BODY.replace("1 1 1 0", "1 2 1 0"), 11, r"indices 1 2 1 are not"),
        (SPI3D_HEADER + SPI3D_BODY.replace("1 1 1 0", "1 1 0.5 0"), 11, "indices 1 1 0.5 are"),
        (SPI3D_HEADER + SPI3D_BODY.replace("1 1 1 0", "0 0 0 0"), 11, "lattice point 0 0 0 given"),
        (SPI3D_HEADER + SPI3D_BODY[:-12], 10, "the file ends after 7 of the 8 table lines"),
        (SPI3D_HEADER + SPI3D_BODY.replace("1 1 1 0 0", "1 1 1 0 x"), 11, "not a number: 'x'"),
    ],
)
def test_spi3d_errors_name_the_file_and_line(tmp_path, text, line, message):
    path = write_text(tmp_path, "bad.spi3d", text)
    with pytest.raises(LutFormatError, match=rf"^{path}:{line}: {message}") as caught:
        read_lut(path)
    assert "\n" not in str(caught.value)


def test_spi3d_text_after_the_table_is_passed_over_with_a_note(tmp_path):
    path = write_text(tmp_path, "tail.spi3d", SPI3D_HEADER + SPI3D_BODY + "extra\n# comment\n")
    lut_file = read_spi3d(path)
    assert lut_file.notes == [f"{path}: 1 line(s) after the table passed over"]
    assert lut_file.comments == ["comment"]


# Choosing the format ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["look.txt", "look.cube", "look"])
def test_spi_files_are_recognised_by_content_whatever_their_name(tmp_path, name):
    spi1d = write_text(tmp_path, f"1d-{name}", SPI1D_ONE_COMPONENT)
    spi3d = write_text(tmp_path, f"3d-{name}", SPI3D_HEADER + SPI3D_BODY)
    assert detect_format(spi1d).name == "spi1d" and detect_format(spi3d).name == "spi3d"
    assert isinstance(read_lut(spi1d).lut, Lut1D) and isinstance(read_lut(spi3d).lut, Lut3D)


def test_write_lut_writes_spi_files_by_extension(tmp_path):
    assert write_lut(Lut1D(curves(16)), tmp_path / "c.SPI1D").name == "spi1d"
    assert write_lut(Lut3D(random_table(3)), tmp_path / "l.spi3d").name == "spi3d"
    assert read_lut(tmp_path / "c.SPI1D").format == "spi1d"
    assert read_lut(tmp_path / "l.spi3d").format == "spi3d"
