"""Model files: exact round trips, atomic writes, and refusing hostile or broken files."""

from __future__ import annotations

import os
import pickle
import random
import time
from pathlib import Path

import pytest
import torch

from disk_support import fill_the_disk
from lutcli.errors import LutcliError, ModelFileError
from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import FORMAT, FORMAT_VERSION, load_model, save_model
from lutcli.models.networks import FEATURE_VERSION, FEATURE_VERSIONS
from lutcli.models.registry import MODELS, create_model

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torch on non-torch pickles


def trained_model(generator: torch.Generator, size: int = 9) -> BasicLookupModel:
    model = BasicLookupModel(lut_size=size)
    with torch.no_grad():
        model.lut.copy_(torch.rand(3, size, size, size, generator=generator))
    return model


def payload(**changes) -> dict:
    """What save_model writes for an identity basic model of 5 points, with ``changes``."""
    content = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": "basic",
        "config": {"lut_size": 5},
        "state_dict": BasicLookupModel(lut_size=5).state_dict(),
        "info": {},
    }
    content.update(changes)
    return content


def test_round_trip_is_exact(tmp_path, device, generator):
    model = trained_model(generator).to(device)
    model.interp = "tetrahedral"
    info = {"best_psnr": 31.25, "epochs": 12, "sources": ["a.jpg", "b.png"], "note": None}
    path = tmp_path / "look.pt"

    save_model(path, model, info)
    loaded, loaded_info = load_model(path)

    assert type(loaded) is BasicLookupModel and loaded.config() == model.config()
    assert loaded_info == info
    assert not loaded.training
    assert loaded.lut.device.type == "cpu"
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor.cpu())
    loaded.interp = model.interp  # a choice made when applying, not stored
    image = torch.rand(1, 3, 32, 32, generator=generator)
    with torch.no_grad():
        assert torch.equal(loaded(image), model(image.to(device)).cpu())


# Every registered model at its defaults, and every adaptive one at each other feature version.
ROUND_TRIPS = [(name, {}) for name in sorted(MODELS)] + [
    (name, {"features": version})
    for name, model in sorted(MODELS.items())
    if model.adaptive
    for version in FEATURE_VERSIONS
    if version != FEATURE_VERSION
]


@pytest.mark.parametrize(("name", "config"), ROUND_TRIPS)
def test_every_registered_model_round_trips(name, config, tmp_path, generator):
    model = create_model(name, lut_size=5, **config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator))
    save_model(tmp_path / "m.pt", model)

    loaded, info = load_model(tmp_path / "m.pt")

    assert info == {}
    assert loaded.name == name and loaded.config() == model.config()
    image = torch.rand(1, 3, 8, 8, generator=generator)
    with torch.no_grad():
        assert torch.equal(loaded(image), model(image))


@pytest.mark.parametrize("name", sorted(name for name, model in MODELS.items() if model.adaptive))
def test_an_adaptive_model_saved_before_feature_version_2_loads_as_it_was(
    name, tmp_path, generator
):
    """Its config does not name its features: it sees the pictures as version 1 did."""
    old = create_model(name, lut_size=5, features=1)
    with torch.no_grad():
        for parameter in old.parameters():
            parameter.copy_(torch.rand(parameter.shape, generator=generator))
    save_model(tmp_path / "old.pt", old)
    content = torch.load(tmp_path / "old.pt", weights_only=True)
    del content["config"]["features"]
    torch.save(content, tmp_path / "old.pt")

    loaded, _ = load_model(tmp_path / "old.pt")

    assert loaded.config() == old.config() and loaded.config()["features"] == 1
    image = torch.rand(1, 3, 8, 8, generator=generator)
    with torch.no_grad():
        assert torch.equal(loaded(image), old(image))


@pytest.mark.parametrize(("scales", "version"), [((), 1), ((2, 4, 8), FORMAT_VERSION)])
def test_scales_are_stored_and_only_they_need_the_newer_format(tmp_path, scales, version):
    """A model trained on a pyramid chooses its LUT at the coarsest scale: a reader of the
    first format would pass over its scales and give other colors, so it must refuse the file.
    Every other model is written in the first format, which every lutcli reads."""
    model = BasicLookupModel(lut_size=5)
    model.scales = scales
    save_model(tmp_path / "m.pt", model)
    stored = torch.load(tmp_path / "m.pt", weights_only=True)
    assert (stored["format_version"], stored["scales"]) == (version, list(scales))
    assert FORMAT_VERSION == 2
    assert load_model(tmp_path / "m.pt")[0].scales == scales


def test_a_file_of_the_first_format_without_scales_loads_at_full_size(tmp_path):
    content = payload(format_version=1)
    assert "scales" not in content
    torch.save(content, tmp_path / "m.pt")
    assert load_model(tmp_path / "m.pt")[0].scales == ()


def test_save_is_atomic_and_replaces_the_old_file(tmp_path, generator):
    path = tmp_path / "look.pt"
    save_model(path, BasicLookupModel(lut_size=5))
    newer = trained_model(generator, size=5)

    save_model(path, newer, {"version": 2})

    assert sorted(os.listdir(tmp_path)) == ["look.pt"]  # no temporary file left behind
    loaded, info = load_model(path)
    assert torch.equal(loaded.lut, newer.lut.detach()) and info == {"version": 2}


def test_info_that_is_not_json_is_refused_before_writing(tmp_path):
    path = tmp_path / "look.pt"
    with pytest.raises(TypeError):
        save_model(path, BasicLookupModel(lut_size=5), {"when": object()})
    assert os.listdir(tmp_path) == []


class Hostile:
    """Unpickling this runs a shell command that creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def check_refused(path: Path, marker: Path) -> None:
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert "refused" in message and str(path) in message and "\n" not in message
    assert not marker.exists(), "loading the file ran its code"


def test_refuses_a_hostile_pickle(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "look.pt"
    with open(path, "wb") as handle:
        pickle.dump(Hostile(marker), handle)
    check_refused(path, marker)


def test_refuses_a_hostile_torch_save(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "look.pt"
    torch.save(Hostile(marker), path)
    check_refused(path, marker)


def test_refuses_code_hidden_inside_a_valid_looking_model(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "look.pt"
    torch.save(payload(state_dict={"lut": Hostile(marker)}), path)
    check_refused(path, marker)


def test_the_hostile_test_object_does_run_code_when_unpickled(tmp_path):
    """Guards the tests above: a plain unpickler does create the marker."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Hostile(marker)))
    assert marker.exists()


def write_random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(4096))


def write_truncated_model(path: Path) -> None:
    save_model(path, BasicLookupModel(lut_size=5))
    path.write_bytes(path.read_bytes()[:300])


BROKEN_FILES = {
    "random bytes": (write_random_bytes, "not a lutcli model file (not a PyTorch file)"),
    "empty": (lambda p: p.write_bytes(b""), "not a lutcli model"),
    "text": (lambda p: p.write_text("hello world\nthis is not a model\n"), "not a lutcli model"),
    "truncated": (write_truncated_model, "not a lutcli model"),
    "no format key": (lambda p: torch.save({"lut": torch.zeros(3)}, p), "not a lutcli model"),
    "a list": (lambda p: torch.save([torch.zeros(3)], p), "not a lutcli model"),
    "future version": (lambda p: torch.save(payload(format_version=99), p), "upgrade lutcli"),
    "version as text": (lambda p: torch.save(payload(format_version="1"), p), "format version"),
    "unknown model": (lambda p: torch.save(payload(model="nope"), p), "unknown model 'nope'"),
    "model not a name": (lambda p: torch.save(payload(model=["basic"]), p), "not a name"),
    "bad scales": (
        lambda p: torch.save(payload(scales=[1, 2]), p),
        "damaged lutcli model file: down-sampling factors must be integers in 2..64",
    ),
    "scales not a list": (lambda p: torch.save(payload(scales=2), p), "down-sampling factors"),
    "wrong shape": (
        lambda p: torch.save(payload(state_dict=BasicLookupModel(lut_size=7).state_dict()), p),
        "size mismatch for lut",
    ),
    "missing tensor": (
        lambda p: torch.save(payload(state_dict={}), p),
        "missing 1 tensor(s) (lut)",
    ),
    "unexpected config": (
        lambda p: torch.save(payload(config={"lut_size": 5, "depth": 3}), p),
        "depth",
    ),
    "bad config": (
        lambda p: torch.save(payload(config={"lut_size": 1}), p),
        "lut_size must be an integer in 2..129",
    ),
    "no config": (lambda p: torch.save(payload(config=None), p), "damaged"),
    "info not a dict": (lambda p: torch.save(payload(info=["x"]), p), "info"),
}


@pytest.mark.parametrize("case", list(BROKEN_FILES))
def test_broken_files_give_one_clear_line(case, tmp_path):
    write, expected = BROKEN_FILES[case]
    path = tmp_path / "look.pt"
    write(path)

    with pytest.raises(ModelFileError) as caught:
        load_model(path)

    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert expected in message


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.pt"
    with pytest.raises(ModelFileError, match="no model file") as caught:
        load_model(path)
    assert str(path) in str(caught.value)


def test_a_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(ModelFileError):
        load_model(tmp_path)


# Saying what a file is, in one short line ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b'TITLE "warm"\nLUT_3D_SIZE 2\n' + b"0 0 0\n" * 8,
            "is a .cube LUT file, not a lutcli model",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "not a PyTorch file"),
        (bytes(range(256)) * 16, "not a PyTorch file"),
        (b"", "it is empty"),
    ],
    ids=["cube", "png", "random bytes", "empty"],
)
def test_a_file_that_is_not_a_model_is_named_for_what_it_is(tmp_path, content, expected):
    """Not an attack: no "refused", no "nothing in it was run"; just what the file is."""
    path = tmp_path / "look.pt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert expected in message and str(path) in message
    assert "refused" not in message and "run" not in message


def test_a_torch_file_holding_objects_is_refused_naming_the_code_it_asks_for(tmp_path):
    path = tmp_path / "look.pt"
    torch.save({"model": torch.nn.Linear(2, 2)}, path)  # a whole module: needs its class
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(f"refused '{path}': loading it would run code (torch.nn.")
    assert "nothing in it was run" in message


def test_a_hostile_pickle_names_the_function_it_would_call(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "look.pt"
    path.write_bytes(pickle.dumps(Hostile(marker)))
    with pytest.raises(ModelFileError, match=r"would run code \(posix\.system\)"):
        load_model(path)
    assert not marker.exists()


def test_many_missing_tensors_are_summed_up_in_a_short_line(tmp_path):
    """A file with the wrong tensors for its model named all of them: 3.7 KB on one line."""
    path = tmp_path / "look.pt"
    torch.save(
        payload(model="combined", config={"lut_size": 5}, state_dict={"x": torch.zeros(1)}), path
    )
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert len(message) < 300 + len(str(path)), message
    assert "missing " in message and " more)" in message and "unexpected 1 tensor(s) (x)" in message


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_model_holding_nan_or_infinity_is_refused_naming_the_file(tmp_path, value):
    """Such a model turned every photo black, with exit status 0."""
    model = BasicLookupModel(lut_size=5)
    with torch.no_grad():
        model.lut[1, 2, 3, 4] = value
    path = tmp_path / "look.pt"
    save_model(path, model)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert str(path) in message and "NaN or infinite values in 1 tensor(s) (lut)" in message


def test_a_model_file_too_large_for_the_limit_is_refused_before_allocating(tmp_path):
    """A 433 KB file that says first-linear with 200 basis LUTs of 129³ took gigabytes and half
    a minute before being called damaged: now the config is sized before anything is built."""
    path = tmp_path / "look.pt"
    config = {"lut_size": 129, "basis_count": 200}
    torch.save(payload(model="first-linear", config=config), path)
    started = time.perf_counter()
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    assert time.perf_counter() - started < 2
    message = str(caught.value)
    assert str(path) in message and "LUTCLI_MAX_MODEL_PARAMETERS" in message


# Writing onto a full disk ----------------------------------------------------------------------


def test_a_full_disk_is_one_line_and_keeps_the_previous_model(tmp_path, monkeypatch, generator):
    path = tmp_path / "look.pt"
    save_model(path, BasicLookupModel(lut_size=5), {"version": 1})
    before = path.read_bytes()
    fill_the_disk(monkeypatch, room=1000)
    with pytest.raises(LutcliError) as caught:
        save_model(path, trained_model(generator, size=9), {"version": 2})
    assert str(caught.value) == f"cannot write '{path}': no space left on device"
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["look.pt"]  # no temporary file left behind
