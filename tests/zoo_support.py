"""Helpers shared by the tests of zoo models (``pythonpath`` in pyproject.toml puts tests/ on
the import path)."""

from __future__ import annotations

import torch

from lutcli.models.base import LutModel
from lutcli.models.networks import LutGenerator


def perturb(model: LutModel, seed: int = 1, lut_noise: float = 0.005) -> LutModel:
    """Move every parameter a little away from its start, as some training would.

    LUT values (basic and basis LUTs) move by about ``lut_noise``; weights and scales by 5 % of
    themselves; what starts at zero (the LUT generators' output layers, biases) gets values
    that make generated LUTs differ from zero by about ``lut_noise`` too (a generator divides
    its output layer by its feature count).
    """
    generator = torch.Generator().manual_seed(seed)
    # Feature count of each LUT generator's output layer, by that layer's name.
    features = {
        f"{name}.output": module.features
        for name, module in model.named_modules()
        if isinstance(module, LutGenerator)
    }
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator)
            if name.endswith(("lut", "basis")):
                parameter.add_(lut_noise * noise)
            elif parameter.abs().max() > 0:
                parameter.mul_(1 + 0.05 * noise)
            elif name.rpartition(".")[0] in features:
                count = features[name.rpartition(".")[0]]
                parameter.add_(0.1 * lut_noise * count * noise)
            else:
                parameter.add_(0.1 * lut_noise * noise)
    return model
