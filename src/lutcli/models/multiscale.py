"""The multi-scale model (SPEC "third optimization model"): any zoo model, trained on a pyramid.

Training compares the model's output with the ground truth at full size and at each integer
down-sampling factor (``scales``), in turn. The coarsest scale provides the picture-level context
for the finer ones: the wrapped model always chooses its LUT from the picture averaged down by the
largest factor, so a 24 MP photo and its thumbnail (down to that size) get the same colors.
``apply --scale`` resizes outputs.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lutcli.models.base import LutModel
from lutcli.models.networks import FIXED_SIZE

# Down-sampling factors are integers in this range: beyond it a 256² context is a few pixels.
MAX_SCALE = 64


class MultiScaleModel(LutModel):
    """``model`` (a zoo model name, built with ``model_config``) trained at ``scales``."""

    name = "multiscale"
    description = "a zoo model trained at several scales (--scales 2,4,8): same colors at any size"
    # Those of the default wrapped model (first-linear); an instance takes its own model's.
    adaptive = True
    learning_rate = 3e-3

    def __init__(
        self,
        lut_size: int = 33,
        model: str = "first-linear",
        scales: list[int] | tuple[int, ...] = (2, 4, 8),
        model_config: dict[str, Any] | None = None,
    ) -> None:
        from lutcli.models.registry import create_model  # the registry lists this model too

        super().__init__(lut_size)
        if model == self.name:
            raise ValueError("a multi-scale model wraps another zoo model, not itself")
        if not scales or any(
            not isinstance(s, int) or isinstance(s, bool) or not 2 <= s <= MAX_SCALE for s in scales
        ):
            raise ValueError(f"scales must be integers in 2..{MAX_SCALE}, got {scales!r}")
        self.scales = tuple(sorted(set(scales)))
        self.inner = create_model(model, lut_size=lut_size, **(model_config or {}))
        # Which scale the next training step takes (saved with the model, so a resumed run
        # goes on where it was).
        self.register_buffer("steps_taken", torch.zeros((), dtype=torch.long))
        # What the wrapped model is, this model is: adaptive or not, trained at its rate.
        self.adaptive = self.inner.adaptive  # type: ignore[misc]
        self.learning_rate = self.inner.learning_rate  # type: ignore[misc]

    def config(self) -> dict[str, Any]:
        inner = {k: v for k, v in self.inner.config().items() if k != "lut_size"}
        return {
            "lut_size": self.lut_size,
            "model": self.inner.name,
            "scales": list(self.scales),
            "model_config": inner,
        }

    def forward(
        self, image: torch.Tensor, context: torch.Tensor | None = None, adaptive: bool = True
    ) -> torch.Tensor:
        """The wrapped model's colors for ``image``, its LUT chosen at the coarsest scale."""
        return self.inner(image, self.coarsest(image if context is None else context), adaptive)

    def coarsest(self, picture: torch.Tensor) -> torch.Tensor:
        """``picture`` as the coarsest scale sees it: resized (antialiased) to a square of the
        fixed size divided by the largest factor. The coarser result provides the context for
        the finer: a photo and any copy of it down to that size look alike here, so they are
        given the same LUT (a filter of fixed shape, unlike block averages, lines up pictures
        whose sizes are not multiples of each other)."""
        side = FIXED_SIZE // self.scales[-1]
        return F.interpolate(picture, size=(side, side), mode="bilinear", antialias=True)

    def training_loss(
        self, inputs: torch.Tensor, targets: torch.Tensor, contexts: torch.Tensor
    ) -> torch.Tensor:
        """Mean squared error at one scale per step, in turn: full size, then each factor (one
        that leaves the crop a pixel), the crops and their ground truth averaged down alike and
        the LUT chosen from the coarsest context. Over a cycle of steps this is the loss
        averaged over the scales, at the cost of one forward pass a step instead of one per
        scale."""
        usable = [f for f in (1, *self.scales) if min(inputs.shape[-2:]) >= f]
        factor = usable[int(self.steps_taken) % len(usable)]
        self.steps_taken += 1
        if factor > 1:
            inputs, targets = F.avg_pool2d(inputs, factor), F.avg_pool2d(targets, factor)
        return super().training_loss(inputs, targets, contexts)

    def smooth_luts(self) -> list[torch.Tensor]:
        return self.inner.smooth_luts()

    def monotone_luts(self) -> list[torch.Tensor]:
        return self.inner.monotone_luts()

    def stages(self) -> list[tuple[str, list[nn.Parameter]]]:
        return self.inner.stages()

    def warm_start(
        self, inputs: torch.Tensor, targets: torch.Tensor, smoothness_weight: float
    ) -> bool:
        return self.inner.warm_start(inputs, targets, smoothness_weight)
