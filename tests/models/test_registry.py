"""The model registry: building models by name and config, with clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from lutcli.errors import LutcliError
from lutcli.models.base import LutModel
from lutcli.models.basic import BasicLookupModel
from lutcli.models.registry import MODELS, create_model, model_class


def test_create_basic():
    model = create_model("basic", lut_size=9)
    assert isinstance(model, BasicLookupModel)
    assert model.lut_size == 9 and model.lut.shape == (3, 9, 9, 9)
    assert model.config() == {"lut_size": 9}


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(LutcliError) as caught:
        create_model("fancy", lut_size=9)
    message = str(caught.value)
    assert "'fancy'" in message
    for name in MODELS:
        assert name in message


def test_multiscale_is_not_a_model_name_but_points_to_scales():
    """Multi-scale is how any zoo model can be trained (--scales), not a model of its own."""
    assert "multiscale" not in MODELS
    with pytest.raises(LutcliError) as caught:
        model_class("multiscale")
    assert str(caught.value) == (
        "multi-scale is not a model of its own: train any zoo model on a pyramid with "
        "--scales, e.g. --model first-linear --scales 2,4,8"
    )


def test_model_class_is_what_create_model_builds():
    for name, cls in MODELS.items():
        assert model_class(name) is cls
    with pytest.raises(LutcliError, match="unknown model 'fancy'"):
        model_class("fancy")


@pytest.mark.parametrize(
    "config",
    [{"lut_size": "x"}, {"lut_size": 1}, {"lut_size": None}, {"lut_size": 9, "layers": 3}],
    ids=["text size", "size 1", "no size", "unexpected option"],
)
def test_bad_config_is_a_user_error(config):
    with pytest.raises(LutcliError, match="bad configuration for model 'basic'"):
        create_model("basic", **config)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_is_described_and_rebuilt_from_its_config(name, generator):
    cls = MODELS[name]
    assert issubclass(cls, LutModel) and cls.name == name
    assert isinstance(cls.description, str) and cls.description.strip()
    assert isinstance(cls.learning_rate, float) and 0 < cls.learning_rate < 1

    model = create_model(name, lut_size=5)
    config = model.config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = create_model(name, **config)
    assert type(rebuilt) is cls and rebuilt.config() == config
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]

    image = torch.rand(1, 3, 8, 8, generator=generator)
    with torch.no_grad():
        out = model(image)
    assert out.shape == image.shape and torch.isfinite(out).all()
    for lut in model.smooth_luts() + model.monotone_luts():
        assert lut.requires_grad and lut.shape[-4:] == (3, 5, 5, 5)


# Limits: a config is checked before anything is allocated ---------------------------------------


@pytest.mark.parametrize(
    ("name", "config", "named"),
    [
        ("first-linear", {"basis_count": 100000}, "basis_count must be an integer in 1..256"),
        ("first-linear", {"basis_count": 2.5}, "basis_count must be an integer"),
        ("first-linear", {"basis_count": True}, "basis_count must be an integer"),
        ("second-linear", {"derived_count": 1000}, "derived_count must be an integer in 1..32"),
        ("second-product", {"coarse_size": 100000}, "coarse_size must be an integer in 2..129"),
        ("combined", {"basis_count": 0}, "basis_count must be an integer in 1..256"),
    ],
)
def test_options_out_of_their_bounds_are_refused(name, config, named):
    with pytest.raises(LutcliError, match=f"bad configuration for model '{name}'") as caught:
        create_model(name, lut_size=9, **config)
    assert named in str(caught.value)


def test_a_model_over_the_parameter_limit_is_refused_before_it_is_built(monkeypatch):
    """first-linear with 200 basis LUTs of 129³ would be 1.7 G numbers (6.7 GB): refused at
    once, with the figures and the way to raise the limit, and nothing is allocated."""
    built = []
    monkeypatch.setattr(BasicLookupModel, "__init__", _recording_init(built))
    with pytest.raises(LutcliError) as caught:
        create_model("first-linear", lut_size=129, basis_count=200)
    message = str(caught.value)
    assert "'first-linear'" in message and "1,301,199,499 numbers" in message
    assert "\n" not in message
    assert "LUTCLI_MAX_MODEL_PARAMETERS" in message
    assert all(device == "meta" for device in built)  # only sized on the meta device


def _recording_init(built: list[str]):
    """BasicLookupModel.__init__ that records the device its LUT is made on."""
    original = BasicLookupModel.__init__

    def init(self, lut_size: int = 33) -> None:
        original(self, lut_size)
        built.append(self.lut.device.type)

    return init


def test_the_parameter_limit_can_be_raised_and_lowered(monkeypatch):
    monkeypatch.setenv("LUTCLI_MAX_MODEL_PARAMETERS", "1000")
    with pytest.raises(LutcliError, match="more than the limit of 1,000"):
        create_model("basic", lut_size=9)  # 3 x 9³ = 2,187 numbers
    monkeypatch.setenv("LUTCLI_MAX_MODEL_PARAMETERS", "3000")
    assert create_model("basic", lut_size=9).lut.device.type == "cpu"


@pytest.mark.parametrize("value", ["many", "-5", "0", "1.5"])
def test_a_bad_parameter_limit_is_named(monkeypatch, value):
    monkeypatch.setenv("LUTCLI_MAX_MODEL_PARAMETERS", value)
    with pytest.raises(LutcliError, match=f"LUTCLI_MAX_MODEL_PARAMETERS.*{value!r}"):
        create_model("basic", lut_size=9)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_at_its_largest_lut_with_default_options_is_within_the_limit(name):
    create_model(name, lut_size=129)  # would raise over the limit


def test_sizing_a_model_is_cheap():
    """Every model is sized on the meta device before it is built; an operation there that torch
    implements in Python (torch.stack, torch.eye) imports its compiler: seconds and 175 MB
    added to every `lutcli apply --model`."""
    code = (
        "import sys\n"
        "from lutcli.models.registry import MODELS, create_model\n"
        "for name in MODELS:\n"
        "    create_model(name, lut_size=9)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr
