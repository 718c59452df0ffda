"""The basic look-up model: one learnable LUT, starting as the identity."""

from __future__ import annotations

import torch
from torch import nn

from lutcli.lut.fit import fit_lut
from lutcli.lut.interpolate import apply_lut
from lutcli.lut.lattice import identity_lut
from lutcli.models.base import LutModel


class BasicLookupModel(LutModel):
    """Output pixel = the LUT's mapping of the input pixel; the same LUT for every picture."""

    name = "basic"
    description = "one learnable LUT, the same color mapping for every photo"
    # Small: after the exact warm start, gradient descent only refines (monotonicity).
    learning_rate = 1e-4

    def __init__(self, lut_size: int = 33) -> None:
        super().__init__(lut_size)
        self.lut = nn.Parameter(identity_lut(lut_size))

    def forward(
        self, image: torch.Tensor, context: torch.Tensor | None = None, adaptive: bool = True
    ) -> torch.Tensor:
        return apply_lut(image, self.lut, self.interp)

    def smooth_luts(self) -> list[torch.Tensor]:
        return [self.lut]

    def monotone_luts(self) -> list[torch.Tensor]:
        return [self.lut]

    def warm_start(
        self, inputs: torch.Tensor, targets: torch.Tensor, smoothness_weight: float
    ) -> bool:
        """Solve for the LUT exactly (least squares with smoothness): the optimum of the loss
        without the monotonicity term, which gradient descent then only refines."""
        fitted = fit_lut(inputs.cpu(), targets.cpu(), self.lut_size, smoothness_weight)
        with torch.no_grad():
            self.lut.copy_(fitted)
        return True
