"""Sampling a model's color mapping on a lattice: the table a .cube file holds."""

from __future__ import annotations

import torch

from lutcli.lut.lattice import identity_lut
from lutcli.models.base import LutModel


@torch.no_grad()
def sample_lut(model: LutModel, size: int, context: torch.Tensor | None = None) -> torch.Tensor:
    """The LUT (3, D, D, D) that reproduces ``model`` on the picture ``context``.

    The lattice colors are pushed through the model as a picture, so this holds for every kind
    of model (for product models it is the composition of their mappings). ``context`` is the
    (1, 3, H, W) picture an image-adaptive model bases its LUT on; without it, an adaptive model
    gives its picture-independent part.
    """
    device = next(model.parameters()).device
    lattice = identity_lut(size, device).reshape(1, 3, size * size, size)
    if context is None:
        table = model(lattice, adaptive=False)
    else:
        table = model(lattice, context=context.to(device))
    return table.reshape(3, size, size, size).cpu()
