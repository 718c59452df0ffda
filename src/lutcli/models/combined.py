"""Combined models: a linear and a product optimization model, applied in sequence."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lutcli.lut.interpolate import apply_lut
from lutcli.lut.lattice import identity_lut
from lutcli.models.base import LutModel
from lutcli.models.networks import FEATURE_VERSION
from lutcli.models.optimization import (
    FirstLinearModel,
    FirstOptimizationModel,
    FirstProductModel,
    SecondLinearModel,
    SecondProductModel,
)

_LINEAR = {"first": FirstLinearModel, "second": SecondLinearModel}
_PRODUCT = {"first": FirstProductModel, "second": SecondProductModel}


class CombinedModel(LutModel):
    """output = P(L(x)): the linear optimization model L, then the product one P.

    ``linear`` and ``product`` choose the kind of each ("first" or "second"): two first, two
    second, or one of each. P looks at the picture as L left it.
    """

    name = "combined"
    description = "a linear then a product optimization model (--model-option linear/product)"
    adaptive = True
    learning_rate = 3e-3

    def __init__(
        self,
        lut_size: int = 33,
        linear: str = "first",
        product: str = "second",
        basis_count: int = 3,
        derived_count: int = 2,
        coarse_size: int = 9,
        features: int = FEATURE_VERSION,
    ) -> None:
        super().__init__(lut_size)
        if linear not in _LINEAR or product not in _PRODUCT:
            raise ValueError(
                f"linear and product must be 'first' or 'second', got {linear!r}, {product!r}"
            )
        self.parts_config = {
            "linear": linear,
            "product": product,
            "basis_count": basis_count,
            "derived_count": derived_count,
            "coarse_size": coarse_size,
            "features": features,  # checked by the networks of the parts
        }
        parts = (basis_count, derived_count, coarse_size, features)
        self.linear_part = _build(_LINEAR[linear], lut_size, *parts)
        self.product_part = _build(_PRODUCT[product], lut_size, *parts)

    def config(self) -> dict[str, Any]:
        return {"lut_size": self.lut_size, **self.parts_config}

    def forward(
        self, image: torch.Tensor, context: torch.Tensor | None = None, adaptive: bool = True
    ) -> torch.Tensor:
        context = self.picture_context(image if context is None else context)
        # The linear part's LUT, then the product part's composed after it: one LUT a picture.
        first = self.linear_part.linear_luts(context, adaptive)
        lut = self.product_part.picture_luts(context, adaptive, before=first)
        return apply_lut(image, lut, self.interp)

    def smooth_luts(self) -> list[torch.Tensor]:
        return self.linear_part.smooth_luts() + self.product_part.smooth_luts()

    def monotone_luts(self) -> list[torch.Tensor]:
        return self.linear_part.monotone_luts() + self.product_part.monotone_luts()

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        """The product part's derived models alone first, as in a product model; then all."""
        return [
            ("derived", list(self.product_part.derived.parameters())),
            ("all", list(self.parameters())),
        ]

    @property
    def starts_from_fit(self) -> bool:  # type: ignore[override]
        """With a second (generated-LUT) product part, training starts from the identity, as
        for a product model: that part's networks see the photo through the linear part and
        learn less through one fitted to the average correction. With a first product part,
        which only blends three basis LUTs per photo, it starts from the fit.

        Measured on the white-balance job, 20 epochs, unseen PSNR from the fit / the identity:
        first + second 27.23 / 28.89 dB, second + second 26.70 / 29.17 dB, first + first
        28.26 / 25.40 dB (24.35 dB with another seed)."""
        return isinstance(self.product_part, FirstOptimizationModel)

    def warm_start(
        self, inputs: torch.Tensor, targets: torch.Tensor, smoothness_weight: float
    ) -> bool:
        """The linear part takes the exact fit and the product part is the identity."""
        self.product_part.reset_derived()
        with torch.no_grad():
            self.product_part.basic.lut.copy_(identity_lut(self.lut_size))
        return self.linear_part.warm_start(inputs, targets, smoothness_weight)


def _build(
    model: type[LutModel],
    lut_size: int,
    basis_count: int,
    derived_count: int,
    coarse_size: int,
    features: int,
) -> LutModel:
    """One optimization model with the options its kind takes."""
    if issubclass(model, FirstOptimizationModel):
        return model(lut_size, basis_count=basis_count, features=features)
    return model(lut_size, derived_count=derived_count, coarse_size=coarse_size, features=features)
