"""The model zoo by name: one dict and one factory, so ``lutcli models`` and model files agree."""

from __future__ import annotations

from itertools import chain
from typing import Any

import torch

from lutcli.errors import LutcliError
from lutcli.limits import environment_limit
from lutcli.models.base import LutModel
from lutcli.models.basic import BasicLookupModel
from lutcli.models.combined import CombinedModel
from lutcli.models.optimization import (
    FirstLinearModel,
    FirstProductModel,
    SecondLinearModel,
    SecondProductModel,
)

# Numbers (parameters and buffers) a model may hold: 400 MB of float32, four times the largest
# zoo model at lut_size 129 with its default options. Training needs about four times as much.
MAX_MODEL_PARAMETERS = 100_000_000
MAX_MODEL_PARAMETERS_VARIABLE = "LUTCLI_MAX_MODEL_PARAMETERS"

MODELS: dict[str, type[LutModel]] = {
    model.name: model
    for model in (
        BasicLookupModel,
        FirstLinearModel,
        FirstProductModel,
        SecondLinearModel,
        SecondProductModel,
        CombinedModel,
    )
}
# What multi-scale training is called: not a zoo model but a way to train any of them.
MULTISCALE = "multiscale"


def model_class(name: str) -> type[LutModel]:
    """The zoo model called ``name``; LutcliError (one line) naming the known ones otherwise."""
    if name == MULTISCALE:
        raise LutcliError(
            "multi-scale is not a model of its own: train any zoo model on a pyramid with "
            "--scales, e.g. --model first-linear --scales 2,4,8"
        )
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise LutcliError(f"unknown model {name!r}; known models: {known}")
    return MODELS[name]


def create_model(name: str, /, **config: Any) -> LutModel:
    """Build the zoo model ``name`` from its config (constructor arguments); ``name`` is
    positional-only, so a config key "name" is an unknown option, not a clash.

    The model is first built on the meta device, which allocates nothing, and its size checked
    against MAX_MODEL_PARAMETERS (raised by the environment variable of that name): a config
    from the command line or from a small file cannot make lutcli allocate gigabytes.
    """
    model = model_class(name)
    limit = environment_limit(MAX_MODEL_PARAMETERS_VARIABLE, MAX_MODEL_PARAMETERS)
    try:
        with torch.device("meta"):
            sketch = model(**config)
        count = sum(t.numel() for t in chain(sketch.parameters(), sketch.buffers()))
        if count > limit:
            raise LutcliError(
                f"model {name!r} with {config} would hold {count:,} numbers, more than the "
                f"limit of {limit:,} (set {MAX_MODEL_PARAMETERS_VARIABLE} to raise it)"
            )
        return model(**config)
    except (TypeError, ValueError) as error:
        raise LutcliError(f"bad configuration for model {name!r}: {error}") from None
