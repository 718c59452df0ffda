"""Presets: the shipped looks in presets/ (up to date with presets/looks.json, and visible on a
photo) and finding presets by name, the user's own folders ($LUTCLI_PRESETS) first."""

from __future__ import annotations

import importlib.util
import json
import os
from importlib import resources
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from lutcli.errors import LutcliError
from lutcli.io.pixels import from_tensor, to_tensor
from lutcli.lut.formats.cube import read_cube, write_cube
from lutcli.lut.grading import apply_operations
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D, LutFile
from lutcli.models.files import save_model
from lutcli.models.registry import create_model
from lutcli.presets import (
    DESCRIPTION_PREFIX,
    SHIPPED_PRESETS,
    USER_PRESETS_VARIABLE,
    Preset,
    find_preset,
    find_presets,
    preset_folders,
)

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_presets.py"
SHIPPED_LOOKS = ("bw", "cool", "film", "matte", "vivid", "warm")


def make_presets_script() -> ModuleType:
    """scripts/make_presets.py, imported (its main() is not run)."""
    spec = importlib.util.spec_from_file_location("make_presets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEFINITIONS = json.loads((SHIPPED_PRESETS / "looks.json").read_text())
LOOKS = DEFINITIONS["looks"]


@pytest.fixture(autouse=True)
def no_user_presets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the shipped presets, whatever the environment running the tests holds."""
    monkeypatch.delenv(USER_PRESETS_VARIABLE, raising=False)


def photo(side: int = 64) -> np.ndarray:
    """A real photo (scikit-image's astronaut), shrunk to ``side`` pixels."""
    return cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)


def through(cube_path: Path, pixels: np.ndarray) -> np.ndarray:
    return from_tensor(read_cube(cube_path).lut.apply(to_tensor(pixels)), pixels.dtype)


def user_cube(folder: Path, name: str, description: str | None = None, size: int = 3) -> Path:
    """A .cube preset in ``folder`` (an inverting look), with a description comment or none."""
    folder.mkdir(parents=True, exist_ok=True)
    comments = [] if description is None else [DESCRIPTION_PREFIX + description]
    path = folder / f"{name}.cube"
    lut = Lut3D((1 - identity_lut(size)).numpy())
    write_cube(LutFile(lut, title=name, comments=comments), path)
    return path


# The shipped looks ----------------------------------------------------------------------------


def test_the_definitions_hold_the_shipped_looks():
    assert set(SHIPPED_LOOKS) <= set(LOOKS)


@pytest.mark.parametrize("name", sorted(LOOKS))
def test_every_defined_look_is_shipped_as_a_cube_file(name):
    path = SHIPPED_PRESETS / f"{name}.cube"
    assert path.is_file(), f"{path} missing: run `make presets`"


@pytest.mark.parametrize("name", sorted(LOOKS))
def test_a_shipped_cube_is_a_fresh_sampling_of_its_definition(name):
    script = make_presets_script()
    cube = read_cube(SHIPPED_PRESETS / f"{name}.cube")
    assert isinstance(cube.lut, Lut3D)
    assert cube.lut.size == script.CUBE_SIZE == 33
    definition = LOOKS[name]
    fresh = apply_operations(identity_lut(script.CUBE_SIZE), definition["operations"]).numpy()
    difference = np.abs(cube.lut.table - fresh).max()
    # The file keeps 4 decimals: half a 1e-4 step of rounding at most, unless it is stale.
    assert difference <= 1e-4, f"presets/{name}.cube is stale: run `make presets` ({difference})"
    assert (
        Preset(name, SHIPPED_PRESETS / f"{name}.cube").description() == (definition["description"])
    )


@pytest.mark.parametrize("name", sorted(LOOKS))
def test_each_shipped_look_visibly_changes_a_photo(name):
    before = photo()
    after = through(SHIPPED_PRESETS / f"{name}.cube", before)
    assert after.shape == before.shape and after.dtype == np.uint8
    difference = np.abs(after.astype(int) - before.astype(int))
    assert difference.mean() > 3, f"{name} barely changes the photo ({difference.mean():.2f})"


def test_warm_and_cool_move_red_and_blue_apart_in_opposite_ways():
    before = photo().astype(float)
    warm = through(SHIPPED_PRESETS / "warm.cube", photo()).astype(float)
    cool = through(SHIPPED_PRESETS / "cool.cube", photo()).astype(float)
    assert warm[..., 0].mean() > before[..., 0].mean() > cool[..., 0].mean()
    assert warm[..., 2].mean() < before[..., 2].mean() < cool[..., 2].mean()


def test_matte_lifts_the_blacks_and_dims_the_whites():
    ramp = np.repeat(np.linspace(0, 255, 64).round().astype(np.uint8)[None, :, None], 3, axis=2)
    matte = through(SHIPPED_PRESETS / "matte.cube", ramp)
    assert matte.min() >= 0.07 * 255 and matte.max() <= 0.95 * 255


def test_bw_makes_red_green_and_blue_equal():
    after = through(SHIPPED_PRESETS / "bw.cube", photo())
    np.testing.assert_array_equal(after[..., 0], after[..., 1])
    np.testing.assert_array_equal(after[..., 1], after[..., 2])
    assert after.std() > 20  # a picture, not a flat gray


def test_the_shipped_looks_are_read_from_the_installed_package():
    assert SHIPPED_PRESETS == Path(resources.files("lutcli.shipped_presets"))
    repository = make_presets_script().SHIPPED_PRESETS  # where `make presets` writes
    if SHIPPED_PRESETS.resolve() == repository:
        return  # the development install maps the package to the repository's presets/
    # An installed wheel carries every shipped file as it is in the repository.
    shipped = {p.name for p in repository.iterdir() if p.suffix in (".cube", ".pt", ".json")}
    for name in shipped:
        assert (SHIPPED_PRESETS / name).read_bytes() == (repository / name).read_bytes(), name


# Finding presets -------------------------------------------------------------------------------


def test_find_presets_lists_the_shipped_looks_sorted_with_descriptions():
    presets = find_presets()
    names = list(presets)
    assert names == sorted(names)
    assert set(SHIPPED_LOOKS) <= set(names)
    # Only .cube and model files are presets (not looks.json); 'auto' may or may not be built.
    assert set(names) <= set(LOOKS) | set(DEFINITIONS["models"])
    for name in SHIPPED_LOOKS:
        preset = presets[name]
        assert preset == Preset(name, SHIPPED_PRESETS / f"{name}.cube")
        assert not preset.is_model
        assert preset.description() == LOOKS[name]["description"]
    if "auto" in presets:
        assert presets["auto"].is_model and presets["auto"].description()


def test_without_the_variable_only_the_shipped_folder_is_searched():
    assert preset_folders() == [SHIPPED_PRESETS]


def test_a_user_folder_adds_presets_and_wins_over_a_shipped_one(tmp_path, monkeypatch):
    mine = tmp_path / "mine"
    user_cube(mine, "negative", "my negative film")
    user_cube(mine, "warm", "my own warm")
    (mine / "notes.txt").write_text("not a preset")
    (mine / "folder.cube").mkdir()  # a folder, not a file
    monkeypatch.setenv(USER_PRESETS_VARIABLE, str(mine))
    presets = find_presets()
    assert list(presets) == sorted(presets)
    assert {"negative", "warm", *SHIPPED_LOOKS} <= set(presets)
    assert "notes" not in presets and "folder" not in presets
    assert presets["negative"].path == mine / "negative.cube"
    assert presets["warm"].path == mine / "warm.cube"
    assert presets["warm"].description() == "my own warm"
    assert presets["film"].path == SHIPPED_PRESETS / "film.cube"  # the others stay shipped
    assert find_preset("warm").path == mine / "warm.cube"


def test_several_user_folders_the_first_wins(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    user_cube(first, "shared", "from the first")
    user_cube(second, "shared", "from the second")
    user_cube(second, "only-second", "only in the second")
    monkeypatch.setenv(USER_PRESETS_VARIABLE, os.pathsep.join([str(first), str(second)]))
    presets = find_presets()
    assert presets["shared"].description() == "from the first"
    assert presets["only-second"].path == second / "only-second.cube"
    assert preset_folders() == [first, second, SHIPPED_PRESETS]


def test_a_missing_or_empty_user_folder_is_ignored(tmp_path, monkeypatch):
    shipped = find_presets()
    present = tmp_path / "present"
    user_cube(present, "mine")
    variable = os.pathsep.join(["", str(tmp_path / "missing"), str(present), ""])
    monkeypatch.setenv(USER_PRESETS_VARIABLE, variable)
    presets = find_presets()
    assert set(presets) == set(shipped) | {"mine"}
    assert presets["mine"].description() == ""  # a .cube without a description comment


def test_an_unknown_preset_lists_the_known_ones():
    with pytest.raises(LutcliError) as caught:
        find_preset("nope")
    message = str(caught.value)
    assert message.startswith("unknown requirement 'nope'; known: ")
    for name in SHIPPED_LOOKS:
        assert name in message
    assert find_preset("film").path == SHIPPED_PRESETS / "film.cube"


def test_a_model_preset_is_listed_with_the_description_of_its_file(tmp_path, monkeypatch):
    torch.manual_seed(0)
    path = tmp_path / "mine" / "fixer.pt"
    path.parent.mkdir()
    model = create_model("first-linear", lut_size=5, basis_count=2)
    save_model(path, model, {"description": "fixes my camera's colors"})
    user_cube(tmp_path / "mine", "plain")
    monkeypatch.setenv(USER_PRESETS_VARIABLE, str(path.parent))
    presets = find_presets()
    assert presets["fixer"] == Preset("fixer", path)
    assert presets["fixer"].is_model
    assert presets["fixer"].description() == "fixes my camera's colors"
    assert not presets["plain"].is_model
    # A model saved without a description has an empty one.
    save_model(path, model)
    assert find_preset("fixer").description() == ""
