"""What every lutcli model is: a color mapping of pictures, rebuilt from a JSON-able config."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

# Lattice points per axis at most: 129³ RGB floats are 26 MB a LUT. A bound, so that a model
# file cannot ask for gigabytes.
MAX_LUT_SIZE = 129


def check_integer(name: str, value: object, low: int, high: int) -> int:
    """``value`` when it is an integer in ``low..high``; ValueError naming the option otherwise
    (a model's config comes from the command line or a file: anything may be there)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    return value


class LutModel(nn.Module):
    """A learnable color mapping built from 3D LUTs.

    ``forward(image, context, adaptive)`` maps an (N, 3, H, W) float picture in [0, 1] to its
    enhanced colors. ``context`` is the whole picture that image-adaptive models look at to
    choose their LUT; it defaults to ``image`` and lets training compute the loss on crops while
    the model sees the photo. ``adaptive=False`` leaves the image-adaptive parts out: what is
    left is the picture-independent part of the model. ``interp`` ("trilinear" or
    "tetrahedral") is how LUTs are interpolated; a choice made when applying, not part of the
    model file.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    learning_rate: ClassVar[float]  # default Adam rate for this model
    adaptive: ClassVar[bool] = False  # whether the color mapping depends on the picture

    def __init__(self, lut_size: int) -> None:
        super().__init__()
        self.lut_size = check_integer("lut_size", lut_size, 2, MAX_LUT_SIZE)
        self.interp = "trilinear"

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model (JSON-able; stored in model files)."""
        return {"lut_size": self.lut_size}

    def forward(
        self, image: torch.Tensor, context: torch.Tensor | None = None, adaptive: bool = True
    ) -> torch.Tensor:
        raise NotImplementedError

    def training_loss(
        self, inputs: torch.Tensor, targets: torch.Tensor, contexts: torch.Tensor
    ) -> torch.Tensor:
        """The fidelity term training minimises: mean squared error of the output on crops
        ``inputs`` (the models see the whole pictures ``contexts``) against ``targets``."""
        return torch.mean((self(inputs, context=contexts) - targets) ** 2)

    def set_interp(self, interp: str) -> None:
        """Interpolate every LUT of the model (and of its parts) with ``interp``."""
        for module in self.modules():
            if isinstance(module, LutModel):
                module.interp = interp

    def smooth_luts(self) -> list[torch.Tensor]:
        """LUT parameters, (..., 3, D, D, D) each, under the smoothness regularizer."""
        return []

    def monotone_luts(self) -> list[torch.Tensor]:
        """LUT parameters, (..., 3, D, D, D) each, under the monotonicity regularizer."""
        return []

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        """Training stages in order: a name and the parameters trained in it."""
        return [("all", list(self.parameters()))]

    def warm_start(
        self, inputs: torch.Tensor, targets: torch.Tensor, smoothness_weight: float
    ) -> bool:
        """Set parameters from training colors before gradient descent; False if not supported.

        inputs, targets: (3, P) float RGB in [0, 1], training pixels.
        """
        return False
