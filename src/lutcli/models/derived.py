"""Derived models: image-adaptive parts that give each picture its own LUT.

A derived model starts either as the *zero* LUT (a residual, for linear combinations, where
LUTs add) or as the *identity* LUT (for product combinations, where mappings compose), so every
optimization model starts as its basic look-up model.
"""

from __future__ import annotations

import torch
from torch import nn

from lutcli.lut.lattice import identity_lut
from lutcli.models.base import check_integer
from lutcli.models.networks import FEATURE_VERSION, LutGenerator, WeightModel

STARTS = ("zero", "identity")
# Basis LUTs of a first derived model at most (the literature uses 3 to 5).
MAX_BASIS_COUNT = 256


class DerivedModel(nn.Module):
    """Base: ``luts(context)`` gives (N, 3, D, D, D), one LUT per picture; ``start`` is the
    picture-independent LUT (3, D, D, D) the model starts as."""

    def __init__(self, lut_size: int, start: str) -> None:
        super().__init__()
        if start not in STARTS:
            raise ValueError(f"start must be one of {STARTS}, got {start!r}")
        initial = (
            identity_lut(lut_size) if start == "identity" else torch.zeros(3, *(lut_size,) * 3)
        )
        # Rebuilt from the config, so not stored in model files.
        self.register_buffer("start", initial, persistent=False)

    def luts(self, context: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def reset_to_start(self) -> None:
        """Give every picture the ``start`` LUT again, keeping what the network learned to see."""
        raise NotImplementedError


class FirstDerivedModel(DerivedModel):
    """A weight model plus K basis LUTs: the picture's LUT is start + Σ_k w_k(picture) · basis_k.

    The basis LUTs start at zero and the weights at a small random guess, so the model starts
    as ``start`` and gradients reach both the basis and the weight model from the first step.
    """

    def __init__(
        self, lut_size: int, basis_count: int, start: str, features: int = FEATURE_VERSION
    ) -> None:
        super().__init__(lut_size, start)
        check_integer("basis_count", basis_count, 1, MAX_BASIS_COUNT)
        self.weight_model = WeightModel(basis_count, features)
        self.basis = nn.Parameter(torch.zeros(basis_count, 3, *(lut_size,) * 3))

    def luts(self, context: torch.Tensor) -> torch.Tensor:
        weights = self.weight_model(context)
        return self.start + torch.einsum("nk,kcbgr->ncbgr", weights, self.basis)

    def reset_to_start(self) -> None:
        with torch.no_grad():
            self.basis.zero_()


class SecondDerivedModel(DerivedModel):
    """A network that generates the picture's LUT: start + LutGenerator(picture)."""

    def __init__(
        self, lut_size: int, coarse_size: int, start: str, features: int = FEATURE_VERSION
    ) -> None:
        super().__init__(lut_size, start)
        self.generator = LutGenerator(lut_size, coarse_size, features)

    def luts(self, context: torch.Tensor) -> torch.Tensor:
        return self.start + self.generator(context)

    def reset_to_start(self) -> None:
        self.generator.reset_output()
