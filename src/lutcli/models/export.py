"""Sampling a model's color mapping on a lattice: the table a .cube file holds."""

from __future__ import annotations

import torch

from lutcli.lut.lattice import identity_lut
from lutcli.models.base import LutModel


@torch.no_grad()
def sample_lut(model: LutModel, size: int, context: torch.Tensor | None = None) -> torch.Tensor:
    """The LUT (3, D, D, D) that reproduces ``model`` on pictures like ``context``.

    The lattice colors are pushed through the model as a picture, so this holds for every kind
    of model; ``context`` is the picture an image-adaptive model bases its LUT on.
    """
    device = next(model.parameters()).device
    lattice = identity_lut(size, device).reshape(1, 3, size * size, size)
    if context is not None:
        context = context.to(device)
    return model(lattice, context=context).reshape(3, size, size, size).cpu()
