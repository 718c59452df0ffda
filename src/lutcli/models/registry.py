"""The model zoo by name: one dict and one factory, so ``lutcli models`` and model files agree."""

from __future__ import annotations

from typing import Any

from lutcli.errors import LutcliError
from lutcli.models.base import LutModel
from lutcli.models.basic import BasicLookupModel
from lutcli.models.combined import CombinedModel
from lutcli.models.multiscale import MultiScaleModel
from lutcli.models.optimization import (
    FirstLinearModel,
    FirstProductModel,
    SecondLinearModel,
    SecondProductModel,
)

MODELS: dict[str, type[LutModel]] = {
    model.name: model
    for model in (
        BasicLookupModel,
        FirstLinearModel,
        FirstProductModel,
        SecondLinearModel,
        SecondProductModel,
        CombinedModel,
        MultiScaleModel,
    )
}


def create_model(name: str, /, **config: Any) -> LutModel:
    """Build the zoo model ``name`` from its config (constructor arguments); ``name`` is
    positional-only, so a config key "name" is an unknown option, not a clash."""
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise LutcliError(f"unknown model {name!r}; known models: {known}")
    try:
        return MODELS[name](**config)
    except (TypeError, ValueError) as error:
        raise LutcliError(f"bad configuration for model {name!r}: {error}") from None
