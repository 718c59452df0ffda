"""Optimization models: a basic look-up model combined with image-adaptive derived models.

- *linear*: the LUTs add, ``T = a·T_B + Σ bᵢ·T_Dᵢ(picture)``, and the picture goes through T;
  the derived parts start as zero residuals.
- *product*: the mappings compose, ``output = Dₙ(…D₁(B(x)))``; the derived parts start as the
  identity and see the picture as B made it. As a matrix product composes transforms, the LUTs
  are composed on the lattice into the one LUT the picture goes through: the model is then
  exactly what ``apply`` runs and ``export-cube --image`` writes. Training is staged: the
  derived part alone first, then the whole model.

First optimization models use one first derived model (a weight model blending K basis LUTs);
second optimization models use several second derived models (networks generating a LUT).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from lutcli.lut.interpolate import apply_lut, compose_luts
from lutcli.models.base import LutModel, check_integer
from lutcli.models.basic import BasicLookupModel
from lutcli.models.derived import DerivedModel, FirstDerivedModel, SecondDerivedModel
from lutcli.models.networks import FEATURE_VERSION

COMBINATIONS = ("linear", "product")
# Second derived models of a second optimization model at most (the literature uses 2 to 4).
MAX_DERIVED_COUNT = 32


class OptimizationModel(LutModel):
    """B combined (``combination``, a class attribute) with the derived models ``derived``."""

    combination: ClassVar[str]
    adaptive = True
    learning_rate = 3e-3

    def __init__(self, lut_size: int, derived: list[DerivedModel]) -> None:
        super().__init__(lut_size)
        self.basic = BasicLookupModel(lut_size)
        self.derived = nn.ModuleList(derived)
        if self.combination == "linear":
            self.basic_scale = nn.Parameter(torch.ones(()))
            self.derived_scales = nn.Parameter(torch.ones(len(derived)))

    @classmethod
    def derived_start(cls) -> str:
        """How the derived parts start: zero residuals (linear) or identity mappings (product)."""
        return "zero" if cls.combination == "linear" else "identity"

    def forward(
        self, image: torch.Tensor, context: torch.Tensor | None = None, adaptive: bool = True
    ) -> torch.Tensor:
        # Fixed first: the parts below transform the context, which costs nothing at 256².
        context = self.picture_context(image if context is None else context)
        return apply_lut(image, self.picture_luts(context, adaptive), self.interp)

    def picture_luts(
        self, context: torch.Tensor, adaptive: bool = True, before: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The LUT each (size-fixed) picture of ``context`` goes through: (N, 3, D, D, D), or
        (3, D, D, D) without the adaptive parts. ``before``: a LUT applied before this model
        (the linear part of a combined model), composed in front; the derived parts then see
        the pictures through it."""
        if self.combination == "linear":
            lut = self.linear_luts(context, adaptive)
            return lut if before is None else compose_luts(before, lut, self.interp)
        table = (
            self.basic.lut if before is None else compose_luts(before, self.basic.lut, self.interp)
        )
        seen = apply_lut(context, table, self.interp)
        for index, part in enumerate(self.derived):
            lut = part.luts(seen) if adaptive else part.start
            table = compose_luts(table, lut, self.interp)
            if index + 1 < len(self.derived):  # the next part sees the picture as this one left it
                seen = apply_lut(seen, lut, self.interp)
        return table

    def linear_luts(self, context: torch.Tensor, adaptive: bool = True) -> torch.Tensor:
        """A linear combination's LUTs for the (size-fixed) pictures ``context``: (N, 3, D, D, D)
        ``a·T_B + Σ bᵢ·T_Dᵢ``, or (3, D, D, D) without the adaptive parts."""
        lut = self.basic_scale * self.basic.lut
        for scale, part in zip(self.derived_scales, self.derived, strict=True):
            lut = lut + scale * (part.luts(context) if adaptive else part.start)
        return lut

    def smooth_luts(self) -> list[torch.Tensor]:
        return self.basic.smooth_luts() + [
            part.basis for part in self.derived if isinstance(part, FirstDerivedModel)
        ]

    def monotone_luts(self) -> list[torch.Tensor]:
        return self.basic.monotone_luts()

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        everything = [("all", list(self.parameters()))]
        if self.combination == "linear":
            return everything
        return [("derived", list(self.derived.parameters())), *everything]

    @property
    def starts_from_fit(self) -> bool:  # type: ignore[override]
        """A linear model trains from the exact fit. A product model trains from the identity,
        with the fit kept as the model to beat: its derived parts see the picture through B,
        and B fitted to the average correction folds away part of what tells one photo from
        another (on the white-balance job, starting from the fit cost 1.7 dB on unseen photos
        after 8 epochs), while on a look that one LUT makes, training from the identity does
        not reach the fit's precision (3.4 dB below it for ``first-product`` on the control
        job), so the fit is the result there."""
        return self.combination == "linear"

    def warm_start(
        self, inputs: torch.Tensor, targets: torch.Tensor, smoothness_weight: float
    ) -> bool:
        """The basic LUT takes the exact fit and the derived parts their start (zero residuals
        or identity mappings), and a linear model's basic LUT its full weight, so the model
        equals that fit."""
        self.reset_derived()
        if self.combination == "linear":
            with torch.no_grad():
                self.basic_scale.fill_(1.0)
        return self.basic.warm_start(inputs, targets, smoothness_weight)

    def reset_derived(self) -> None:
        """Every derived part back to its start LUT, whatever the picture."""
        for part in self.derived:
            part.reset_to_start()


class FirstOptimizationModel(OptimizationModel):
    """B with one first derived model: a weight model blending ``basis_count`` basis LUTs."""

    def __init__(
        self, lut_size: int = 33, basis_count: int = 3, features: int = FEATURE_VERSION
    ) -> None:
        self.basis_count = basis_count
        self.features = features  # checked by the networks that use it
        derived = FirstDerivedModel(lut_size, basis_count, self.derived_start(), features)
        super().__init__(lut_size, [derived])

    def config(self) -> dict[str, Any]:
        return {
            "lut_size": self.lut_size,
            "basis_count": self.basis_count,
            "features": self.features,
        }


class SecondOptimizationModel(OptimizationModel):
    """B with ``derived_count`` second derived models, each generating a LUT from the picture
    as a ``coarse_size``³ lattice upsampled to the LUT size."""

    def __init__(
        self,
        lut_size: int = 33,
        derived_count: int = 2,
        coarse_size: int = 9,
        features: int = FEATURE_VERSION,
    ) -> None:
        check_integer("derived_count", derived_count, 1, MAX_DERIVED_COUNT)
        self.derived_count = derived_count
        self.coarse_size = coarse_size
        self.features = features  # checked by the networks that use it
        start = self.derived_start()
        derived = [
            SecondDerivedModel(lut_size, coarse_size, start, features) for _ in range(derived_count)
        ]
        super().__init__(lut_size, derived)

    def config(self) -> dict[str, Any]:
        return {
            "lut_size": self.lut_size,
            "derived_count": self.derived_count,
            "coarse_size": self.coarse_size,
            "features": self.features,
        }


class FirstLinearModel(FirstOptimizationModel):
    name = "first-linear"
    combination = "linear"
    description = "basic LUT + weighted basis LUTs chosen per photo by a small CNN (LUTs add)"


class FirstProductModel(FirstOptimizationModel):
    name = "first-product"
    combination = "product"
    description = "basic LUT, then per-photo blended basis LUTs (mappings compose; staged)"


class SecondLinearModel(SecondOptimizationModel):
    name = "second-linear"
    combination = "linear"
    description = "basic LUT + LUTs generated per photo by CNNs (LUTs add)"


class SecondProductModel(SecondOptimizationModel):
    name = "second-product"
    combination = "product"
    description = "basic LUT, then LUTs generated per photo by CNNs (mappings compose; staged)"
