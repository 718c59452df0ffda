"""``lutcli info``: what a LUT or model file is, one row per fact."""

from __future__ import annotations

import re

import numpy as np
from cli_support import assert_one_error_line, save_adaptive_model
from skimage import data

from clip_support import pan, write_clip
from lutcli.lut.formats.cube import write_cube
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence
from lutcli.models.files import save_model
from lutcli.models.registry import create_model


def rows(output: str) -> dict[str, list[str]]:
    """The table as {first column: [values of its rows]} (wrapped lines joined)."""
    table: dict[str, list[str]] = {}
    key = None
    lines = output.splitlines()
    start = len(re.match(r"file\s+", lines[0]).group(0))  # where the values' column starts
    for line in lines:
        name, value = line[:start].strip(), line[start:].strip()
        if name:
            key = name
            table.setdefault(key, []).append(value)
        elif key is not None and value:
            table[key][-1] += " " + value
    return table


def test_a_shaper_cube_shows_its_tables_domains_title_comments_and_notes(tmp_path):
    path = tmp_path / "log.cube"
    shaper = Lut1D(np.sqrt(np.linspace(0, 1, 1024))[:, None].repeat(3, 1), -0.125, 4)
    lut = LutSequence([shaper, Lut3D(identity_lut(17).numpy())])
    write_cube(LutFile(lut, "Log to video", ["made for [red] tests"]), path)
    path.write_text("LUT_SPECIAL 1\n" + path.read_text())  # a keyword of another tool
    from click.testing import CliRunner

    from lutcli.cli.main import cli

    result = CliRunner().invoke(cli, ["info", str(path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    assert table["format"] == ["Adobe/Resolve .cube (1D, 3D, shaper + 3D)"]
    assert table["table 1"] == ["shaper 1D, 1024 entries"]
    assert table["table 2"] == ["17x17x17"]
    assert table["domain"] == ["-0.125 .. 4", "0 .. 1"]
    assert table["comment"] == ["Log to video", "made for [red] tests"]  # text, not markup
    assert len(table["note"]) == 1 and "unknown keyword 'LUT_SPECIAL'" in table["note"][0]


def test_a_model_shows_its_zoo_name_options_and_training_data(tmp_path):
    path = tmp_path / "auto.pt"
    model = create_model("first-linear", lut_size=9, basis_count=4)
    save_model(path, model, {"pairs": 120, "validation_pairs": ["a", "b"]})
    from click.testing import CliRunner

    from lutcli.cli.main import cli

    result = CliRunner().invoke(cli, ["info", str(path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    assert table["model"] == ["first-linear (image-adaptive)"]
    assert table["LUT size"] == ["9x9x9"]
    assert table["option basis_count"] == ["4"]
    assert table["pairs"] == ["120"]
    assert table["validation_pairs"] == ['2: ["a", "b"]']
    parameters = sum(p.numel() for p in model.parameters())
    assert table["parameters"] == [f"{parameters:,}"]
    assert "trained at scales" not in table
    model.scales = (2, 8, 4)
    save_model(path, model)
    result = CliRunner().invoke(cli, ["info", str(path)], terminal_width=200)
    assert rows(result.stdout)["trained at scales"] == ["2, 4, 8 (chooses its LUT at 32x32)"]


def test_a_missing_or_unknown_file_is_one_line(tmp_path, invoke):
    assert_one_error_line(invoke("info", tmp_path / "nope.cube"), "nope.cube", "no such file")
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    assert_one_error_line(invoke("info", junk), "junk.txt", "not a LUT file")
    bad_model = tmp_path / "bad.pt"
    save_adaptive_model(tmp_path / "good.pt", "first-linear")
    bad_model.write_bytes((tmp_path / "good.pt").read_bytes()[:100])
    assert_one_error_line(invoke("info", bad_model), "bad.pt")


def test_a_clip_is_described_as_apply_keeps_it(invoke, tmp_path):
    clip = write_clip(tmp_path / "shot.mov", pan(data.coffee(), 6), "prores_ks", "yuv422p10le")
    result = invoke("info", clip)
    assert result.exit_code == 0, result.output
    table = rows(result.stdout)
    assert table["format"] == ["clip"]
    assert table["video"] == ["prores, 128x96, 25 frames/s"]
    assert table["frames"] == ["6"] and table["pixels"] == ["yuv422p10le (10-bit)"]
    assert table["matrix"] == ["bt709"] and table["range"] == ["limited (tv)"]
    assert table["other streams"] == ["1 audio"]
