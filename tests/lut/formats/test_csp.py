""".csp reading and writing: the prelut as cineSpace's curve through its points (resampled
within PRELUT_TOLERANCE), OpenColorIO applying hand-written files, its own and colour-science's
test files, and what lutcli writes as lutcli does; colour-science reading the same tables where
it draws the prelut the same; one-line errors naming the file and line."""

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
from lutcli.lut.formats.csp import PRELUT_TOLERANCE, format_csp, read_csp, write_csp
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence, bake

RESOURCES = Path(__file__).parents[2] / "resources" / "luts"
# OpenColorIO computes in float32 and resamples a prelut at 65536 points of its own: agreement
# within this on outputs of about 0..1 (measured: 3e-6 at most, curved preluts included).
OCIO_TOLERANCE = 1e-5

# The cineSpace specification's example of gamma preluts: red x² on 11 points, green x³ and
# blue x² on 6.
GAMMA_PRELUT = """11
0.0 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0
0.0 0.01 0.04 0.09 0.16 0.25 0.36 0.49 0.64 0.81 1.0
6
0.0 0.2 0.4 0.6 0.8 1.0
0.0 0.008 0.064 0.216 0.512 1.0
6
0.0 0.2 0.4 0.6 0.8 1.0
0.0 0.04 0.16 0.36 0.64 1.0
"""


def table_lines(table: np.ndarray) -> str:
    """The rows of a (3, D, D, D) table, red fastest, written independently of lutcli."""
    rows = table.transpose(1, 2, 3, 0).reshape(-1, 3)
    return "".join(f"{r!r} {g!r} {b!r}\n" for r, g, b in rows.tolist())


def csp_3d(prelut: str, table: np.ndarray, metadata: str = "") -> str:
    size = table.shape[-1]
    return f"CSPLUTV100\n3D\n{metadata}\n{prelut}\n{size} {size} {size}\n" + table_lines(table)


def colour_apply(path: Path, colors: np.ndarray) -> np.ndarray:
    """(P, 3) colors through colour-science's reading of ``path``, clamped at each domain."""
    lut = colour.io.read_LUT(str(path))
    if isinstance(lut, colour.LUTSequence):
        return lut.apply(colors.astype(np.float64))
    return lut.apply(colors.astype(np.float64), extrapolator_kwargs={"method": "Constant"})


# Round trips -----------------------------------------------------------------------------------


def test_a_3d_table_is_written_with_identity_preluts_and_metadata(tmp_path):
    lut = Lut3D(random_table(5))
    write_csp(LutFile(lut, "warm look", ["made by lutcli", ""]), tmp_path / "look.csp")
    text = (tmp_path / "look.csp").read_text()
    identity = "2\n0.0 1.0\n0.000000 1.000000\n"
    assert text.startswith(
        "CSPLUTV100\n3D\n\nBEGIN METADATA\nwarm look\nmade by lutcli\nEND METADATA\n\n"
        + identity * 3
        + "\n5 5 5\n"
    )
    back = read_csp(tmp_path / "look.csp")
    assert back.format == "csp" and back.notes == []
    assert back.title == "warm look" and back.comments == ["made by lutcli"]
    assert isinstance(back.lut, Lut3D) and back.lut.has_default_domain
    np.testing.assert_allclose(back.lut.table, lut.table, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "lut",
    [
        Lut3D(random_table(9, seed=2), [-0.1, 0.0, -0.5], [1.5, 2.0, 1.0]),
        Lut1D(np.linspace(0, 1, 64)[:, None] ** [0.5, 1.0, 2.2], -0.25, 4.0),
    ],
    ids=["3d", "1d"],
)
def test_a_table_with_a_domain_comes_back_with_the_same_domain(tmp_path, lut):
    """The domain is written as 2-point preluts mapping it onto 0..1, which read back as the
    table's domain, exactly."""
    write_csp(LutFile(lut), tmp_path / "domain.csp")
    text = (tmp_path / "domain.csp").read_text()
    assert text.startswith("CSPLUTV100\n" + ("1D" if isinstance(lut, Lut1D) else "3D"))
    low, high = float(lut.domain_min[0]), float(lut.domain_max[0])
    assert f"\n2\n{low!r} {high!r}\n0.000000 1.000000\n" in text
    back = read_csp(tmp_path / "domain.csp")
    assert type(back.lut) is type(lut) and back.title is None
    np.testing.assert_array_equal(back.lut.domain_min, lut.domain_min)
    np.testing.assert_array_equal(back.lut.domain_max, lut.domain_max)
    np.testing.assert_allclose(back.lut.table, lut.table, rtol=0, atol=1e-6)
    colors = sample_colors(-0.7, 4.5)
    path = tmp_path / "domain.csp"
    np.testing.assert_allclose(
        through_lutcli(lut, colors), through_ocio(path, colors), atol=OCIO_TOLERANCE
    )
    np.testing.assert_allclose(through_lutcli(lut, colors), colour_apply(path, colors), atol=1e-6)


@pytest.mark.parametrize("kind", [Lut3D, Lut1D])
def test_a_shaper_and_a_table_come_back_as_the_same_colors(tmp_path, kind):
    """A curve before the table becomes the prelut's points; read back, cineSpace's curve
    through them differs from straight lines between them by about spacing² / 8 times the
    curve's bend: within 5e-5 on this 256-point log shaper (measured 2.2e-5). OpenColorIO
    applies the file as lutcli reads it."""
    x = np.linspace(0.0, 1.0, 256)[:, None]
    shaper = Lut1D(np.log2(1 + 3 * x) / 2 * [1.0, 0.9, 0.8], -0.125, 3.0)
    if kind is Lut3D:
        table = Lut3D(random_table(9, seed=3), 0.0, 0.9)
    else:
        table = Lut1D(x**2.2 * [1, 1, 1], 0.0, 0.9)
    lut = LutSequence([shaper, table])
    write_csp(LutFile(lut, "shaped"), tmp_path / "shaped.csp")
    back = read_csp(tmp_path / "shaped.csp")
    assert back.title == "shaped" and isinstance(back.lut, LutSequence)
    prelut, back_table = back.lut.luts
    assert type(back_table) is kind and back_table.has_default_domain
    np.testing.assert_array_equal(prelut.domain_min, shaper.domain_min)
    np.testing.assert_array_equal(prelut.domain_max, shaper.domain_max)
    colors = sample_colors(-0.3, 3.2)
    ours = through_lutcli(lut, colors)
    np.testing.assert_allclose(through_lutcli(back.lut, colors), ours, rtol=0, atol=5e-5)
    path = tmp_path / "shaped.csp"
    theirs = through_ocio(path, colors)
    np.testing.assert_allclose(
        theirs, through_lutcli(back.lut, colors), rtol=0, atol=OCIO_TOLERANCE
    )


def test_a_chain_no_csp_holds_is_baked(tmp_path):
    curve = Lut1D(np.linspace(0, 1, 16)[:, None] ** [2.0, 2.0, 2.0])
    chain = LutSequence([Lut3D(random_table(9)), curve])
    write_lut(chain, tmp_path / "chain.csp")
    back = read_lut(tmp_path / "chain.csp").lut
    assert isinstance(back, Lut3D) and back.size == 9
    np.testing.assert_allclose(back.table, bake(chain, 9).table, rtol=0, atol=1e-6)


def test_write_refuses_what_a_csp_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match=r"cube size must be in 2\.\.256"):
        format_csp(LutFile(Lut3D(np.zeros((3, 257, 257, 257), np.float32))))
    with pytest.raises(ValueError, match="non-finite"):
        format_csp(LutFile(Lut3D(np.full((3, 2, 2, 2), np.inf))))
    with pytest.raises(ValueError, match="'END METADATA' would end METADATA"):
        format_csp(LutFile(Lut3D(random_table(2)), "look", ["end metadata here"]))
    with pytest.raises(LutcliError, match=r"cannot write .*as csp: .*prelut points must be in"):
        long_shaper = LutSequence([Lut1D(np.zeros((70_000, 3))), Lut3D(random_table(2))])
        write_lut(long_shaper, tmp_path / "long.csp")
    assert not (tmp_path / "long.csp").exists()


# The prelut --------------------------------------------------------------------------------------


def test_a_curved_prelut_is_cinespaces_curve_through_its_points(tmp_path):
    """The specification's gamma preluts: the resampled curve passes through every point and
    OpenColorIO, which computes the same curve, applies the file as lutcli does."""
    table = random_table(9, seed=5)
    path = write_text(tmp_path, "gamma.csp", csp_3d(GAMMA_PRELUT, table))
    sequence = read_csp(path).lut
    prelut, lut3d = sequence.luts
    np.testing.assert_array_equal(lut3d.table, np.float32(table))
    points = np.linspace(0, 1, 11)
    inputs = np.stack([points, points, points], 1).astype(np.float32)
    through = through_lutcli(prelut, inputs)
    np.testing.assert_allclose(through[:, 0], points**2, rtol=0, atol=PRELUT_TOLERANCE)
    fifths = np.isclose(points * 5, np.round(points * 5))
    np.testing.assert_allclose(through[fifths, 1], points[fifths] ** 3, atol=PRELUT_TOLERANCE)
    np.testing.assert_allclose(through[fifths, 2], points[fifths] ** 2, atol=PRELUT_TOLERANCE)
    colors = sample_colors()
    np.testing.assert_allclose(
        through_lutcli(sequence, colors), through_ocio(path, colors), rtol=0, atol=OCIO_TOLERANCE
    )


def test_points_on_a_line_are_read_as_the_line_exactly(tmp_path):
    """Unevenly spaced points on one straight line (as colour-science writes ragged preluts)
    need no resampling: 2 points, and colour-science's straight lines between the points give
    the same colors."""
    prelut = "4\n-0.5 0.0 0.1 1.5\n0.1 0.3 0.34 0.9\n" * 3
    table = random_table(5, seed=6)
    path = write_text(tmp_path, "line.csp", csp_3d(prelut, table, "BEGIN METADATA\nEND METADATA"))
    lut = read_csp(path).lut
    assert isinstance(lut, LutSequence) and lut.luts[0].size == 2
    np.testing.assert_allclose(lut.luts[0].table, [[0.1] * 3, [0.9] * 3], rtol=0, atol=1e-7)
    colors = sample_colors(-0.7, 1.7)
    ours = through_lutcli(lut, colors)
    np.testing.assert_allclose(ours, through_ocio(path, colors), rtol=0, atol=OCIO_TOLERANCE)
    inside = colors.clip(-0.5, 1.5)  # colour-science extrapolates a prelut in a sequence
    np.testing.assert_allclose(
        through_lutcli(lut, inside), colour_apply(path, inside), rtol=0, atol=1e-6
    )


def test_a_prelut_onto_0_to_1_becomes_the_domain_and_an_identity_none(tmp_path):
    table = random_table(3)
    onto = "2\n-1.0 3.0\n0.0 1.0\n" + "0\n" + "3\n-2.0 0.0 2.0\n0.0 0.5 1.0\n"
    lut = read_csp(write_text(tmp_path, "onto.csp", csp_3d(onto, table))).lut
    assert isinstance(lut, Lut3D)
    np.testing.assert_array_equal(lut.domain_min, [-1.0, 0.0, -2.0])
    np.testing.assert_array_equal(lut.domain_max, [3.0, 1.0, 2.0])
    # Outputs equal to inputs, whatever their range: no prelut, as OpenColorIO reads it.
    identity = "3\n-1.0 0.0 2.0\n-1.0 0.0 2.0\n" * 3
    lut = read_csp(write_text(tmp_path, "identity.csp", csp_3d(identity, table))).lut
    assert isinstance(lut, Lut3D) and lut.has_default_domain


# Agreement on other tools' files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tolerance"),
    [
        ("lut3d_arbitrary.csp", OCIO_TOLERANCE),  # OpenColorIO's: no METADATA
        ("Three_Dimensional_Table_With_Shaper.csp", OCIO_TOLERANCE),  # a 10-point curve
        # A 5-point curve over -0.02..55 into a 1D table up to 55, resampled at 65536 points
        # by both: within 1e-5 of the outputs' range.
        ("Uncommon_3x1D_With_Pre_Lut.csp", 55 * OCIO_TOLERANCE),
    ],
)
def test_opencolorio_applies_real_csp_files_as_lutcli_does(name, tolerance):
    path = RESOURCES / name
    lut_file = read_lut(path)
    assert lut_file.format == "csp" and lut_file.notes == []
    low, high = lut_file.lut.domain_min.min(), lut_file.lut.domain_max.max()
    colors = sample_colors(low - 0.1 * (high - low), high + 0.1 * (high - low))
    ours = through_lutcli(lut_file.lut, colors)
    np.testing.assert_allclose(ours, through_ocio(path, colors), rtol=0, atol=tolerance)


def test_colour_science_draws_curved_preluts_as_straight_lines():
    """colour-science joins a prelut's points by straight lines, where the cineSpace library
    and OpenColorIO draw a curve: on its own 10-point shaper test file the colors differ by up
    to about 0.3 (OpenColorIO and lutcli agree within 1e-5); its table and metadata agree."""
    path = RESOURCES / "Three_Dimensional_Table_With_Shaper.csp"
    lut_file = read_csp(path)
    assert lut_file.title == "LUT3D with My Shaper" and len(lut_file.comments) == 4
    shaper, cube = colour.io.read_LUT(str(path))
    np.testing.assert_array_equal(
        np.float32(cube.table.transpose(3, 2, 1, 0)), lut_file.lut.luts[1].table
    )
    colors = sample_colors(-0.1, 3.0)  # within the prelut: no extrapolation
    difference = np.abs(through_lutcli(lut_file.lut, colors) - colour_apply(path, colors)).max()
    assert 0.1 < difference < 0.5


# Errors and notes -------------------------------------------------------------------------------

IDENTITY = "2\n0 1\n0 1\n" * 3
CUBE_2 = "2 2 2\n" + "0 0 0\n" * 8


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("CSPLUTV200\n3D\n", 1, "expected 'CSPLUTV100', found 'CSPLUTV200'"),
        ("CSPLUTV100\n2D\n", 2, "expected '1D' or '3D', found '2D'"),
        ("CSPLUTV100\n3D\nBEGIN METADATA\ntitle\n", 3, "BEGIN METADATA without END METADATA"),
        ("CSPLUTV100\n3D\n", 2, "the file ends where the red prelut's point count was expected"),
        ("CSPLUTV100\n3D\nx\n", 3, "expected the red prelut's point count, found 'x'"),
        ("CSPLUTV100\n3D\n2\n0 1\n0 1\n1\n0\n", 6, "the green prelut needs 2 or more points"),
        ("CSPLUTV100\n3D\n3\n0 1\n", 4, r"expected 3 numbers \(the red prelut's inputs\)"),
        ("CSPLUTV100\n3D\n3\n0 1 1\n", 4, "the red prelut's inputs must increase"),
        ("CSPLUTV100\n3D\n2\n0 1\n0 one\n", 5, "not a number: 'one'"),
        ("CSPLUTV100\n3D\n" + IDENTITY + "2 2 3\n", 12, r"cube sizes differ \(2 2 3\)"),
        ("CSPLUTV100\n3D\n" + IDENTITY + "300 300 300\n", 12, r"cube size must be in 2\.\.256"),
        ("CSPLUTV100\n3D\n" + IDENTITY + CUBE_2[:-6], 19, "the file ends after 7 of the 8"),
        ("CSPLUTV100\n3D\n" + IDENTITY + CUBE_2[:-6] + "0 0\n", 20, r"expected 3 numbers"),
        ("CSPLUTV100\n1D\n" + IDENTITY + "1\n0 0 0\n", 12, r"expected the 1D table's length"),
    ],
)
def test_csp_errors_name_the_file_and_line(tmp_path, text, line, message):
    path = write_text(tmp_path, "bad.csp", text)
    with pytest.raises(LutFormatError, match=rf"^{path}:{line}: {message}") as caught:
        read_lut(path)
    assert "\n" not in str(caught.value)


def test_lines_after_the_table_are_passed_over_with_a_note(tmp_path):
    path = write_text(tmp_path, "tail.csp", "CSPLUTV100\n3D\n" + IDENTITY + CUBE_2 + "0 0 0\n")
    assert read_csp(path).notes == [f"{path}: 1 line(s) after the table passed over"]


# Choosing the format ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["look.txt", "look.cube", "look.spi3d", "look"])
def test_a_csp_file_is_recognised_by_content_whatever_its_name(tmp_path, name):
    path = write_text(tmp_path, name, "CSPLUTV100\n3D\n" + IDENTITY + CUBE_2)
    assert detect_format(path).name == "csp"
    assert isinstance(read_lut(path).lut, Lut3D)


def test_write_lut_writes_csp_by_extension(tmp_path):
    assert write_lut(Lut3D(random_table(3)), tmp_path / "look.CSP").name == "csp"
    assert read_lut(tmp_path / "look.CSP").format == "csp"
