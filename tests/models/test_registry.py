"""The model registry: building models by name and config, with clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from lutcli.errors import LutcliError
from lutcli.models.base import LutModel
from lutcli.models.basic import BasicLookupModel
from lutcli.models.registry import MODELS, create_model


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
