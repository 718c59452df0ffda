"""``lutcli presets``: one line per named look (name, kind, description), the user's own too."""

from __future__ import annotations

import pytest
import torch
from cli_support import assert_one_error_line, noise, write_picture

import lutcli.presets
from lutcli.lut.formats import write_lut
from lutcli.lut.formats.cube import write_cube
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D, LutFile
from lutcli.models.files import save_model
from lutcli.models.registry import create_model
from lutcli.presets import DESCRIPTION_PREFIX, USER_PRESETS_VARIABLE, find_presets

SHIPPED_LOOKS = ("bw", "cool", "film", "matte", "vivid", "warm")


@pytest.fixture(autouse=True)
def no_user_presets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(USER_PRESETS_VARIABLE, raising=False)


def listed(stdout: str) -> dict[str, tuple[str, str]]:
    """The lines of `lutcli presets` as {name: (kind, description)}."""
    rows = {}
    for line in stdout.splitlines():
        name, kind, *description = line.split(maxsplit=2)
        rows[name] = (kind, description[0] if description else "")
    return rows


def test_presets_lists_one_line_per_preset(invoke):
    result = invoke("presets")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    rows = listed(result.stdout)
    presets = find_presets()
    assert list(rows) == list(presets)  # sorted by name, one line each
    assert len(result.stdout.splitlines()) == len(presets)
    assert set(SHIPPED_LOOKS) <= set(rows)
    for name, preset in presets.items():
        assert rows[name] == ("model" if preset.is_model else ".cube", preset.description())
    assert rows["film"][0] == ".cube"
    assert rows["film"][1].startswith("cinematic print")


def test_presets_lines_are_aligned(invoke):
    lines = invoke("presets").stdout.splitlines()
    kinds = {line.index(".cube") if ".cube" in line else line.index("model") for line in lines}
    assert len(kinds) == 1  # the kinds start in one column


def test_presets_lists_the_users_own_looks_and_models(tmp_path, monkeypatch, invoke):
    mine = tmp_path / "mine"
    mine.mkdir()
    comments = [DESCRIPTION_PREFIX + "my own film stock"]
    lut = Lut3D((1 - identity_lut(3)).numpy())
    write_cube(LutFile(lut, title="film", comments=comments), mine / "film.cube")
    torch.manual_seed(0)
    model = create_model("first-linear", lut_size=5, basis_count=2)
    save_model(mine / "fixer.pt", model, {"description": "fixes my camera"})
    write_lut(LutFile(lut, comments=[DESCRIPTION_PREFIX + "a Hald CLUT"]), mine / "velvia.png")
    write_picture(mine / "thumbnail.png", noise(10, 12))  # an image, not a look
    monkeypatch.setenv(USER_PRESETS_VARIABLE, str(mine))
    result = invoke("presets")
    assert result.exit_code == 0, result.output
    rows = listed(result.stdout)
    assert rows["film"] == (".cube", "my own film stock")  # the user's wins
    assert rows["fixer"] == ("model", "fixes my camera")
    assert rows["velvia"][0] == ".png"
    assert "thumbnail" not in rows
    assert rows["warm"][0] == ".cube"
    graded = invoke(
        "apply", mine / "thumbnail.png", tmp_path / "out.png", "--requirement", "velvia"
    )
    assert graded.exit_code == 0, graded.output


def test_presets_lists_every_preset_when_some_user_presets_are_broken(
    tmp_path, monkeypatch, invoke
):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "aaa-truncated.cube").write_text("LUT_3D_SIZE 2\n0 0 0\n")
    (mine / "garbage.pt").write_bytes(bytes(range(256)) * 4)
    lut = Lut3D((1 - identity_lut(3)).numpy())
    comments = [DESCRIPTION_PREFIX + "my negative"]
    write_cube(LutFile(lut, title="negative", comments=comments), mine / "negative.cube")
    monkeypatch.setenv(USER_PRESETS_VARIABLE, str(mine))
    result = invoke("presets")
    # Every preset is listed, the broken ones with the reason on their own line...
    rows = listed(result.stdout)
    assert list(rows) == list(find_presets())
    assert {"aaa-truncated", "garbage", "negative", *SHIPPED_LOOKS} <= set(rows)
    assert rows["negative"] == (".cube", "my negative")
    assert rows["warm"][0] == ".cube" and not rows["warm"][1].startswith("BROKEN")
    kind, reason = rows["aaa-truncated"]
    assert kind == ".cube" and reason.startswith("BROKEN: ") and "truncated" in reason
    kind, reason = rows["garbage"]
    assert kind == "model" and reason.startswith("BROKEN: ") and "garbage.pt" in reason
    broken = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert len(broken) == 2
    # ...and the run fails at the end, naming them in one line.
    assert_one_error_line(result, "2 preset(s) cannot be read", "aaa-truncated, garbage")


def test_presets_with_none_anywhere_is_one_line(tmp_path, monkeypatch, invoke):
    monkeypatch.setattr(lutcli.presets, "SHIPPED_PRESETS", tmp_path / "no-presets")
    assert_one_error_line(invoke("presets"), "no presets", "no-presets", "make presets")


def test_presets_help_says_where_presets_live(invoke):
    result = invoke("presets", "--help")
    assert result.exit_code == 0
    assert "LUTCLI_PRESETS" in result.stdout
    assert "presets" in invoke("--help").stdout


def test_presets_takes_no_arguments(invoke):
    result = invoke("presets", "warm")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_presets_only_reads_the_presets_folder(invoke):
    before = sorted(p.name for p in lutcli.presets.SHIPPED_PRESETS.iterdir())
    assert invoke("presets").exit_code == 0
    assert sorted(p.name for p in lutcli.presets.SHIPPED_PRESETS.iterdir()) == before
