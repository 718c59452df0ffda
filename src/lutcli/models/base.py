"""What every lutcli model is: a color mapping of pictures, rebuilt from a JSON-able config,
that chooses its LUT from the whole picture seen at a fixed size (its picture context)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

# Lattice points per axis at most: 129³ RGB floats are 26 MB a LUT. A bound, so that a model
# file cannot ask for gigabytes.
MAX_LUT_SIZE = 129
# The side of the square picture image-adaptive models look at, whatever the photo's size.
FIXED_SIZE = 256
# Down-sampling factors of a training pyramid are integers up to this: beyond it the coarsest
# picture context is a few pixels.
MAX_SCALE = 64


def fix_picture_size(picture: torch.Tensor) -> torch.Tensor:
    """Resize (N, 3, H, W) pictures to (N, 3, 256, 256), antialiased; a no-op at that size."""
    if picture.shape[-2:] == (FIXED_SIZE, FIXED_SIZE):
        return picture
    size = (FIXED_SIZE, FIXED_SIZE)
    return F.interpolate(picture, size=size, mode="bilinear", antialias=True)


def check_integer(name: str, value: object, low: int, high: int) -> int:
    """``value`` when it is an integer in ``low..high``; ValueError naming the option otherwise
    (a model's config comes from the command line or a file: anything may be there)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    return value


def check_scales(scales: Sequence[int]) -> tuple[int, ...]:
    """Down-sampling factors of a training pyramid, sorted, once each (empty: full size only);
    ValueError when they are not integers in ``2..MAX_SCALE`` (they come from the command line
    or a file: anything may be there)."""
    if not isinstance(scales, (list, tuple)) or any(
        isinstance(s, bool) or not isinstance(s, int) or not 2 <= s <= MAX_SCALE for s in scales
    ):
        raise ValueError(
            f"down-sampling factors must be integers in 2..{MAX_SCALE}, got {scales!r}"
        )
    return tuple(sorted(set(scales)))


class LutModel(nn.Module):
    """A learnable color mapping built from 3D LUTs.

    ``forward(image, context, adaptive)`` maps an (N, 3, H, W) float picture in [0, 1] to its
    enhanced colors. ``context`` is the whole picture that image-adaptive models look at to
    choose their LUT; it defaults to ``image`` and lets training compute the loss on crops while
    the model sees the photo. ``adaptive=False`` leaves the image-adaptive parts out: what is
    left is the picture-independent part of the model. ``interp`` ("trilinear" or
    "tetrahedral") is how LUTs are interpolated; a choice made when applying, not part of the
    model file. ``scales`` are the down-sampling factors of the pyramid the model was trained
    on (SPEC's multi-scale model; empty: full size only), stored in its file: they decide what
    it chooses its LUT from (``picture_context``).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    learning_rate: ClassVar[float]  # default Adam rate for this model
    adaptive: ClassVar[bool] = False  # whether the color mapping depends on the picture

    def __init__(self, lut_size: int) -> None:
        super().__init__()
        self.lut_size = check_integer("lut_size", lut_size, 2, MAX_LUT_SIZE)
        self.interp = "trilinear"
        self._scales: tuple[int, ...] = ()

    @property
    def scales(self) -> tuple[int, ...]:
        """The training pyramid's down-sampling factors, sorted (``check_scales``)."""
        return self._scales

    @scales.setter
    def scales(self, scales: Sequence[int]) -> None:
        self._scales = check_scales(scales)

    def picture_context(self, picture: torch.Tensor) -> torch.Tensor:
        """(N, 3, FIXED_SIZE, FIXED_SIZE): the whole pictures (N, 3, H, W) as the model sees
        them to choose their LUT, size-fixed.

        A model trained on a pyramid sees them at its coarsest scale, first resized
        (antialiased) to a square of the fixed size over the largest factor: the coarser
        provides the context for the finer, and a photo and any copy of it down to that size
        look alike there, so they get the same LUT (a filter of fixed shape, unlike block
        averages, lines up pictures whose sizes are not multiples of each other)."""
        if self.scales:
            side = FIXED_SIZE // self.scales[-1]
            picture = F.interpolate(picture, size=(side, side), mode="bilinear", antialias=True)
        return fix_picture_size(picture)

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

    # Where training starts: True, at the warm start; False, at the model's own start (the
    # identity), with the warm start kept as the model to beat: the result unless an epoch
    # scores better on validation (``Trainer``).
    starts_from_fit = True

    def warm_start(
        self, inputs: torch.Tensor, targets: torch.Tensor, smoothness_weight: float
    ) -> bool:
        """Set the model to the exact fit of one LUT to the training colors, the best
        picture-independent state; False if not supported.

        inputs, targets: (3, P) float RGB in [0, 1], training pixels.
        """
        return False
