""".3dl files: OpenColorIO's own test files read as OpenColorIO reads them, hand-written files
(blue fastest, output depths, Lustre keywords, meshes of other lengths or spacing), round trips
within the output quantisation, OpenColorIO applying what write_3dl makes as lutcli does,
choosing the format by content and by name, and one-line errors naming the file and line."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from lut_format_support import sample_colors, through_lutcli, through_ocio
from lutcli.errors import LutcliError, LutFormatError
from lutcli.lut.formats import FORMATS, detect_format, read_lut, threedl, write_lut
from lutcli.lut.formats.threedl import format_3dl, likely_bits, read_3dl, recognises, write_3dl
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence

# From OpenColorIO's tests/data/files (commit ed0c9eff, BSD-3-Clause: LICENSE-OpenColorIO
# beside them), gzipped where over 50 KB: a 17³ Lustre file with its keywords and 12-bit
# outputs, a 17³ file written by Nuke ("Foundry::LUT") with a 16-bit mesh and outputs, and a
# truncated copy of the first that OpenColorIO refuses.
RESOURCES = Path(__file__).parents[2] / "resources" / "luts"
LUSTRE, NUKE, TRUNCATED = "discreet-3d-lut.3dl", "crosstalk.3dl", "error_truncated_file.3dl"
# The mesh every 17-point file written with a 10-bit input has.
MESH_17 = "0 64 128 192 256 320 384 448 512 576 640 704 768 832 896 960 1023"


def resource(tmp_path: Path, name: str) -> Path:
    """The resource ``name`` copied into ``tmp_path`` (gunzipped when stored gzipped)."""
    path = tmp_path / name
    if (RESOURCES / name).exists():
        shutil.copyfile(RESOURCES / name, path)
    else:
        path.write_bytes(gzip.decompress((RESOURCES / f"{name}.gz").read_bytes()))
    return path


def write_text(tmp_path: Path, text: str, name: str = "test.3dl") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def rows_text(rows: np.ndarray) -> str:
    return "".join(f"{r} {g} {b}\n" for r, g, b in np.asarray(rows).tolist())


def lattice_rows(size: int, top: int) -> np.ndarray:
    """The identity's table lines: line k is lattice point (r, g, b) = (k // N², k // N % N,
    k % N), blue fastest, as code values of ``top``."""
    index = np.arange(size**3)
    points = np.stack([index // size**2, index // size % size, index % size], 1)
    return np.rint(points * top / (size - 1)).astype(int)


def smooth_lut(size: int, seed: int = 0, spread: float = 0.06) -> Lut3D:
    """A look-like table: the identity bent by low-frequency waves, going a little beyond
    0..1 (so writing clips)."""
    rng = np.random.default_rng(seed)
    lattice = identity_lut(size).numpy().astype(np.float64)
    table = lattice.copy()
    for channel in range(3):
        weights, phase = rng.uniform(-3, 3, 3), rng.uniform(0, 2 * np.pi)
        table[channel] += spread * np.sin(np.tensordot(weights, lattice, axes=1) + phase)
    return Lut3D(table)


def assert_one_line_error(path: Path, line: int | None, fragment: str) -> None:
    with pytest.raises(LutFormatError) as caught:
        read_3dl(path)
    message = str(caught.value)
    assert "\n" not in message, message
    prefix = f"{path}:{line}: " if line is not None else f"{path}: "
    assert message.startswith(prefix), message
    assert fragment in message, message


# Real files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [LUSTRE, NUKE])
def test_real_files_read_as_opencolorio_reads_them(tmp_path, name):
    path = resource(tmp_path, name)
    lut_file = read_lut(path)
    assert lut_file.format == "3dl" and lut_file.notes == []
    assert isinstance(lut_file.lut, Lut3D) and lut_file.lut.size == 17
    colors = sample_colors(0, 1, grid=11, count=2000, seed=7)
    difference = np.abs(through_lutcli(lut_file.lut, colors) - through_ocio(path, colors))
    assert difference.max() < 1e-6  # measured 1.5e-7 (float32 rounding)


def test_the_lustre_file_holds_the_values_opencolorio_tests_for(tmp_path):
    """OpenColorIO's own test: line 41 (0-based) is "54 323 597", line 4591 "4025 3426 0",
    12-bit. Blue fastest: line k is lattice point r = k // 289, g = k // 17 % 17, b = k % 17."""
    lut_file = read_3dl(resource(tmp_path, LUSTRE))
    table = lut_file.lut.table  # [c, b, g, r]
    np.testing.assert_allclose(table[:, 7, 2, 0] * 4095, [54, 323, 597], rtol=1e-6)
    np.testing.assert_allclose(table[:, 1, 15, 15] * 4095, [4025, 3426, 0], rtol=1e-6, atol=1e-6)
    assert lut_file.title is None
    assert lut_file.comments == ["Tokens required by applications - do not edit"] * 2


def test_the_nuke_file_is_16_bit(tmp_path):
    """Its mesh runs 0..65535 and its outputs reach 42060: 16-bit by OpenColorIO's rule."""
    path = resource(tmp_path, NUKE)
    lines = path.read_text().splitlines()
    assert lines[1].split()[-1] == "65535"
    assert max(int(value) for line in lines[2:] for value in line.split()) == 42060
    table = read_3dl(path).lut.table
    assert table.max() * 65535 == pytest.approx(42060)


def test_a_truncated_real_file_is_refused_naming_the_mesh(tmp_path):
    assert_one_line_error(
        resource(tmp_path, TRUNCATED),
        None,
        "expected 4913 table lines (17³, for the 17-value input mesh on line 5), found 369 "
        "(file truncated?)",
    )


# Hand-written files -----------------------------------------------------------------------------


def test_blue_changes_fastest(tmp_path):
    """A 2³ file without a mesh (as Lustre may write): line k holds lattice point (r, g, b) =
    (k >> 2, k >> 1 & 1, k & 1), distinct values showing where each line lands."""
    rows = [[k * 500, k * 500 + 1, k * 500 + 2] for k in range(8)]
    lut = read_3dl(write_text(tmp_path, "3DMESH\nMesh 0 12\n" + rows_text(rows))).lut
    assert isinstance(lut, Lut3D) and lut.size == 2
    for k, row in enumerate(rows):
        r, g, b = k >> 2, k >> 1 & 1, k & 1
        np.testing.assert_allclose(lut.table[:, b, g, r], np.array(row) / 4095, rtol=1e-6)
    # Pure blue in, line 1 out: blue is the axis that changes first.
    blue = through_lutcli(lut, np.array([[0.0, 0.0, 1.0]]))
    np.testing.assert_allclose(blue[0] * 4095, rows[1], rtol=1e-6)


def test_a_4_point_mesh_interpolates_trilinearly(tmp_path):
    """An identity of 4 points at 12 bits: any color comes back, within a code value."""
    text = "0 341 682 1023\n" + rows_text(lattice_rows(4, 4095))
    lut = read_3dl(write_text(tmp_path, text)).lut
    assert isinstance(lut, Lut3D) and lut.size == 4 and lut.has_default_domain
    colors = sample_colors(0, 1, grid=11, count=2000, seed=7)
    np.testing.assert_allclose(through_lutcli(lut, colors), colors, atol=1 / 4095)


@pytest.mark.parametrize(
    ("top", "bits"),
    [(255, 8), (511, 8), (1023, 10), (2047, 10), (4095, 12), (8191, 12), (16383, 16), (65535, 16)],
)
def test_output_depth_follows_opencolorio_from_the_largest_value(tmp_path, top, bits):
    text = MESH_17 + "\n" + rows_text(lattice_rows(17, top))
    path = write_text(tmp_path, text)
    lut = read_3dl(path).lut
    assert likely_bits(top) == bits
    assert lut.table.max() == pytest.approx(top / (2**bits - 1))
    colors = sample_colors(0, 1, grid=11, count=2000, seed=7)
    np.testing.assert_allclose(through_lutcli(lut, colors), through_ocio(path, colors), atol=1e-6)


def test_the_mesh_keyword_states_the_depth_of_a_dark_table(tmp_path):
    """A 12-bit table that stays dark (largest 1800) reads as 12-bit when 'Mesh 4 12' says so,
    with a note that OpenColorIO, which goes by the largest value, reads it as 10-bit."""
    rows = lattice_rows(17, 1800)
    path = write_text(tmp_path, f"3DMESH\nMesh 4 12\n{MESH_17}\n" + rows_text(rows))
    lut_file = read_3dl(path)
    assert lut_file.lut.table.max() == pytest.approx(1800 / 4095)
    assert lut_file.notes == [
        f"{path}:2: outputs read as 12-bit, as 'Mesh' says; OpenColorIO, which goes by their "
        "largest value (1800), reads 10-bit"
    ]
    assert through_ocio(path, np.ones((1, 3))).max() == pytest.approx(1800 / 1023)


def test_a_mesh_keyword_the_values_overshoot_is_overruled(tmp_path):
    path = write_text(tmp_path, f"Mesh 4 10\n{MESH_17}\n" + rows_text(lattice_rows(17, 4095)))
    lut_file = read_3dl(path)
    assert lut_file.lut.table.max() == pytest.approx(1.0)
    assert lut_file.notes == [
        f"{path}:1: 'Mesh' says 10-bit outputs, but they reach 4095: read as 12-bit"
    ]


def test_an_uneven_mesh_is_a_curve_before_the_table_as_opencolorio_reads_it(tmp_path):
    mesh = "0 100 300 500 1023"
    path = write_text(tmp_path, f"# uneven\n{mesh}\n" + rows_text(lattice_rows(5, 4095)))
    lut_file = read_3dl(path)
    lut = lut_file.lut
    assert isinstance(lut, LutSequence)
    assert [type(part) for part in lut.luts] == [Lut1D, Lut3D]
    np.testing.assert_allclose(lut.luts[0].table[:, 0] * 1023, [0, 100, 300, 500, 1023], rtol=1e-6)
    assert lut_file.notes == [
        f"{path}:2: the input mesh is not evenly spaced over 0..1023: applied as a curve before "
        "the table, as OpenColorIO does"
    ]
    colors = sample_colors(0, 1, grid=11, count=2000, seed=7)
    np.testing.assert_allclose(through_lutcli(lut, colors), through_ocio(path, colors), atol=1e-6)


def test_an_even_mesh_of_another_length_spans_the_inputs_as_opencolorio_reads_it(tmp_path):
    """OpenColorIO's baker writes a mesh of its shaper size beside a cube of another size (its
    own test: a 10-value mesh and a 2³ table)."""
    rows = [[0, 410, 819], [0, 410, 4095], [0, 4095, 819], [0, 4095, 4095]]
    rows += [[4095, 410, 819], [4095, 410, 4095], [4095, 4095, 819], [4095, 4095, 4095]]
    text = "3DMESH\nMesh 0 12\n0 114 227 341 455 568 682 796 909 1023\n" + rows_text(rows)
    path = write_text(tmp_path, text + "\nLUT8\ngamma 1.0\n")
    lut_file = read_3dl(path)
    assert isinstance(lut_file.lut, Lut3D) and lut_file.lut.size == 2
    assert lut_file.notes == [
        f"{path}:3: the input mesh has 10 values, the table 2³ lines: read as a table spanning "
        "the inputs, as OpenColorIO does"
    ]
    colors = sample_colors(0, 1, grid=11, count=2000, seed=7)
    np.testing.assert_allclose(
        through_lutcli(lut_file.lut, colors), through_ocio(path, colors), atol=1e-6
    )


def test_comments_keywords_blank_lines_tabs_crlf_and_bom(tmp_path):
    rows = lattice_rows(4, 4095)
    text = (
        "\ufeff# first\r\n\r\n3DMESH\r\nMesh 1 12\r\n  0\t341 682  1023 \r\n"
        + rows_text(rows[:30]).replace("\n", "\r\n")
        + "# in the table\r\n\r\n"
        + rows_text(rows[30:]).replace(" ", "\t").replace("\n", "\r\n")
        + "\r\n# after\r\nLUT8\r\ngamma 1.0"  # no line end at the end
    )
    lut_file = read_3dl(write_text(tmp_path, text))
    assert lut_file.comments == ["first", "in the table", "after"] and lut_file.notes == []
    expected = read_3dl(write_text(tmp_path, "0 341 682 1023\n" + rows_text(rows), "plain.3dl"))
    np.testing.assert_array_equal(lut_file.lut.table, expected.lut.table)


def test_keywords_it_passes_over_are_noted_with_their_line(tmp_path):
    """Lustre's gamma line other than 1 (OpenColorIO's test file lustre_33x33x33.3dl has
    'gamma 1.035949'), unknown keywords and 'Mesh' lines that state no usable depth."""
    header = "Mesh four\nMesh 4 20\nLUT8\nmesh 4 12\nFOO bar\n"
    text = header + f"{MESH_17}\n" + rows_text(lattice_rows(17, 4095)) + "gamma 1.035949\n"
    path = write_text(tmp_path, text)
    assert read_3dl(path).notes == [
        f"{path}:1: 'Mesh' line not understood, ignored",
        f"{path}:2: 'Mesh' gives 20-bit outputs, ignored",
        f"{path}:5: unknown keyword 'FOO' ignored",
        f"{path}:4920: 'gamma 1.035949' ignored (as OpenColorIO does)",
    ]


def test_the_table_reads_the_same_in_blocks_of_any_size(tmp_path, monkeypatch):
    rows = np.random.default_rng(3).integers(0, 4096, (17**3, 3))
    rows[0] = 4095
    text = f"{MESH_17}\n" + rows_text(rows[:2000]) + "# halfway\n\n" + rows_text(rows[2000:])
    path = write_text(tmp_path, text)
    whole = read_3dl(path).lut.table
    for block_chars in (1, 7, 64, 4096):
        monkeypatch.setattr(threedl, "_BLOCK_CHARS", block_chars)
        np.testing.assert_array_equal(read_3dl(path).lut.table, whole)
    expected = rows.reshape(17, 17, 17, 3).transpose(3, 2, 1, 0) / 4095
    np.testing.assert_allclose(whole, expected, rtol=1e-6)


# Writing ----------------------------------------------------------------------------------------


def test_format_writes_lustre_keywords_a_10_bit_mesh_and_integer_rows_blue_fastest():
    lut_file = LutFile(Lut3D(identity_lut(17).numpy()), "film look", ["made by", "lutcli"])
    lines = format_3dl(lut_file).splitlines()
    assert lines[:6] == ["# film look", "# made by", "# lutcli", "3DMESH", "Mesh 4 12", MESH_17]
    assert lines[6:9] == ["0 0 0", "0 0 256", "0 0 512"]  # blue first: 4095 / 16 = 255.94
    assert lines[6 + 17] == "0 256 0" and lines[6 + 17 * 17] == "256 0 0"
    assert lines[6 + 17**3 :] == ["", "LUT8", "gamma 1.0"]


@pytest.mark.parametrize(("size", "mesh_bits"), [(2, 0), (3, 1), (4, 1), (32, 4), (33, 5), (65, 6)])
def test_mesh_keyword_and_line_for_each_size(size, mesh_bits):
    """'Mesh IN OUT' as OpenColorIO's baker writes it (IN = floor(log2(N - 1))); a mesh of 2 or
    3 values would read as a table line, so none is written then."""
    lines = format_3dl(LutFile(Lut3D(identity_lut(size).numpy()))).splitlines()
    assert lines[:2] == ["3DMESH", f"Mesh {mesh_bits} 12"]
    if size < 4:
        assert lines[2] == "0 0 0"
    else:
        mesh = [int(value) for value in lines[2].split()]
        assert mesh == np.rint(np.arange(size) * 1024 / (size - 1)).clip(0, 1023).tolist()


@pytest.mark.parametrize("size", [2, 3, 17, 33, 65])
@pytest.mark.parametrize("bits", [10, 12, 16])
def test_round_trip_within_the_output_quantisation(tmp_path, size, bits):
    lut = smooth_lut(size)
    path = tmp_path / "look.3dl"
    write_3dl(LutFile(lut, "look", ["a comment"]), path, output_bits=bits)
    back = read_3dl(path)
    assert back.format == "3dl" and back.notes == [] and back.comments == ["look", "a comment"]
    assert isinstance(back.lut, Lut3D) and back.lut.size == size
    # Clipped to 0..1, then rounded to a code value: within half a code (and float32's error).
    error = np.abs(back.lut.table - lut.table.clip(0, 1)).max()
    assert error <= 0.5 / (2**bits - 1) + 1e-7
    assert (lut.table < 0).any() and (lut.table > 1).any()  # clipping was tested


def test_a_dark_lut_comes_back_by_the_depth_mesh_states(tmp_path):
    """Outputs that stay under half the depth's top would read as a lower depth from their
    largest value alone: 'Mesh 4 12' keeps lutcli's round trip right, and the note says how
    OpenColorIO reads the file."""
    dark = Lut3D(identity_lut(17).numpy() * 0.4)
    path = tmp_path / "night.3dl"
    write_3dl(LutFile(dark), path)
    back = read_3dl(path)
    assert np.abs(back.lut.table - dark.table).max() <= 0.5 / 4095 + 1e-7
    assert back.notes == [
        f"{path}:2: outputs read as 12-bit, as 'Mesh' says; OpenColorIO, which goes by their "
        "largest value (1638), reads 10-bit"
    ]


def test_opencolorio_applies_what_write_3dl_makes_as_lutcli_does(tmp_path):
    lut = smooth_lut(33, seed=4)
    path = tmp_path / "for_ocio.3dl"
    write_3dl(LutFile(lut, "for OpenColorIO"), path)
    colors = sample_colors(0, 1, grid=11, count=2000, seed=7)
    theirs = through_ocio(path, colors)
    # The same file through lutcli: the same table, the same trilinear interpolation.
    np.testing.assert_allclose(through_lutcli(read_3dl(path).lut, colors), theirs, atol=1e-6)
    # Against the LUT written: interpolation mixes values each within half a 12-bit code.
    clipped = Lut3D(lut.table.clip(0, 1))
    np.testing.assert_allclose(through_lutcli(clipped, colors), theirs, atol=0.5 / 4095 + 1e-6)


def test_curves_are_baked_at_33_and_sequences_at_the_size_of_their_3d_table(tmp_path):
    curve = Lut1D(np.linspace(0, 1, 64)[:, None] ** [0.5, 1.0, 2.0])
    lines = format_3dl(LutFile(curve)).splitlines()
    assert lines[1] == "Mesh 5 12" and len(lines[2].split()) == 33
    assert len(lines) == 3 + 33**3 + 3
    shaped = LutSequence([curve, smooth_lut(9)])
    lines = format_3dl(LutFile(shaped)).splitlines()
    assert lines[1] == "Mesh 3 12" and len(lines[2].split()) == 9
    # The middle gray of the square-root red curve, through the baked table: sqrt(0.5) in red.
    baked = read_3dl(write_text(tmp_path, format_3dl(LutFile(curve)))).lut
    red = through_lutcli(baked, np.array([[0.5, 0.5, 0.5]]))[0, 0]
    assert red == pytest.approx(np.sqrt(0.5), abs=2e-3)


@pytest.mark.parametrize(
    ("lut_file", "options", "message"),
    [
        (LutFile(Lut3D(identity_lut(2).numpy(), 0, 2)), {}, "input domain is [0.0, 0.0, 0.0]"),
        (LutFile(Lut3D(np.full((3, 2, 2, 2), np.nan))), {}, "non-finite values"),
        (LutFile(Lut3D(identity_lut(2).numpy())), {"output_bits": 14}, "10, 12 or 16-bit"),
    ],
)
def test_format_rejects_what_no_3dl_file_holds(lut_file, options, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        format_3dl(lut_file, **options)


def test_format_rejects_a_lattice_beyond_the_largest_size(monkeypatch):
    monkeypatch.setattr(threedl, "MAX_SIZE", 8)
    with pytest.raises(ValueError, match="written with at most 8 points per axis"):
        format_3dl(LutFile(Lut3D(identity_lut(9).numpy())))


# Choosing the format ----------------------------------------------------------------------------


def test_write_lut_picks_3dl_by_extension_and_refuses_through_lutcli_error(tmp_path):
    assert write_lut(smooth_lut(5), tmp_path / "x.3dl") is FORMATS["3dl"]
    assert read_lut(tmp_path / "x.3dl").format == "3dl"
    with pytest.raises(LutcliError, match=r"cannot write '.*y\.3dl' as 3dl: a \.3dl file holds"):
        write_lut(Lut3D(identity_lut(2).numpy(), -1, 1), tmp_path / "y.3dl")


def test_a_3dl_named_cube_is_read_as_3dl_with_a_note(tmp_path):
    path = tmp_path / "look.cube"
    write_3dl(LutFile(smooth_lut(5)), path)
    lut_file = read_lut(path)
    assert lut_file.format == "3dl" and isinstance(lut_file.lut, Lut3D)
    description = FORMATS["3dl"].description
    assert lut_file.notes == [f"{path}: its content is {description}, not cube; read as such"]


def test_a_flame_file_is_recognised_by_its_mesh_whatever_its_name(tmp_path):
    path = write_text(tmp_path, f"# Flame\n{MESH_17}\n" + rows_text(lattice_rows(17, 4095)), "a")
    assert detect_format(path) is FORMATS["3dl"]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"3DMESH\nMesh 4 12\n", True),
        (b"\xef\xbb\xbf#Tokens\n\n3DMESH\n", True),
        (b"# Nuke\n0 4096 8192 12288 16384\n0 0 0\n", True),
        (b"LUT8\r\n0 64 128 192\r\n", True),
        (b"0 0 0\n0 0 4095\n", False),  # a table line first: no mesh to tell
        (b"0 0.25 0.5 0.75 1\n", False),  # not integers
        (b'TITLE "x"\nLUT_3D_SIZE 2\n0 0 0\n', False),  # .cube
        (b"SPILUT 1.0\n3 3\n17 17 17\n", False),  # .spi3d
        (b"CSPLUTV100\n3D\n", False),
        (b"\x89PNG\r\n\x1a\n", False),
        (b"# only comments\n", False),
    ],
)
def test_recognises(head, expected):
    assert recognises(head) is expected


# Errors -----------------------------------------------------------------------------------------

TABLE_17 = rows_text(lattice_rows(17, 4095))
TABLE_LINES = TABLE_17.splitlines(keepends=True)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (f"{MESH_17}\n0 0 0\n0 0\n", 3, "expected 3 integers (a table line), found 2"),
        (
            f"{MESH_17}\n{''.join(TABLE_LINES[:11])}1 2 3 4\n",
            13,
            "expected 3 integers (a table line), found 4",
        ),
        ("3DMESH\n0 64\n", 2, "expected 3 integers (a table line), found 2"),
        (f"{MESH_17}\n0 0.5 0\n", 2, "not a non-negative integer: '0.5'"),
        (f"{MESH_17}\n0 0 0\n0 -5 0\n", 3, "not a non-negative integer: '-5'"),
        (f"{MESH_17}\n0 0 0\n0 1e3 0\n", 3, "not a non-negative integer: '1e3'"),
        (f"{MESH_17}\n0 0 0\n0 12345678901 0\n", 3, "integer too large: '12345678901'"),
        (f"{MESH_17}\n9999999999 0 0\n", 2, "integer too large: '9999999999'"),
        ("0 64 512 256 1023\n", 1, "the input mesh must increase, but 256 follows 512"),
        (f"# x\n{MESH_17}\n{MESH_17}\n", 3, "a second input mesh (the first is on line 2)"),
        ("0 16 32 64\n", 1, "the input mesh ends at 64: too low for a .3dl file"),
        ("<?xml version='1.0'?>\n", 1, "XML (a .clf file?), not .3dl"),
        (
            f"{MESH_17}\n" + "".join(TABLE_LINES[:-1]),
            None,
            "expected 4913 table lines (17³, for the 17-value",
        ),
        ("3DMESH\n" + "0 0 4095\n" * 7, None, "7 table lines: not N³ for any lattice size N >= 2"),
        ("4095 4095 4095\n", None, "1 table lines: not N³"),
        (f"3DMESH\n{MESH_17}\n", None, "no table lines after the input mesh"),
        ("# only a comment\n\nLUT8\n", None, "no table lines (3 integers a line)"),
        ("", None, "no table lines"),
        ("0 0 0\n" * 8, None, "the largest output value is 0: too low for a .3dl file"),
    ],
)
def test_errors_name_the_file_and_line(tmp_path, text, line, fragment):
    assert_one_line_error(write_text(tmp_path, text, "bad.3dl"), line, fragment)


def test_errors_deep_in_the_table_name_their_line_whatever_the_blocks(tmp_path, monkeypatch):
    lines = TABLE_17.splitlines()
    lines[3000] = "0 0 0 0"
    path = write_text(tmp_path, f"{MESH_17}\n" + "\n".join(lines) + "\n")
    for block_chars in (16, 1 << 20):
        monkeypatch.setattr(threedl, "_BLOCK_CHARS", block_chars)
        assert_one_line_error(path, 3002, "expected 3 integers (a table line), found 4")


def test_errors_for_missing_file_folder_and_binary_data(tmp_path):
    assert_one_line_error(tmp_path / "missing.3dl", None, "no such file")
    (tmp_path / "folder.3dl").mkdir()
    assert_one_line_error(tmp_path / "folder.3dl", None, "is a folder")
    (tmp_path / "image.3dl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert_one_line_error(tmp_path / "image.3dl", None, "binary data")
