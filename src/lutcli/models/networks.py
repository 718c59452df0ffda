"""The networks inside image-adaptive models: they look at the whole picture, at a fixed size.

Every adaptive part starts with a *picture size fixing layer* (the picture resized to 256×256,
whatever its size, so a 24 MP photo and its preview give the same answer), then *sampling
layers* (strided convolutions that extract picture features), then an *output layer*.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FIXED_SIZE = 256
# Channels of the five sampling layers (the learned-LUT literature's 5-layer predictor).
SAMPLING_CHANNELS = (16, 32, 64, 128, 128)
# Features per picture after pooling: mean and maximum of the last layer's channels.
FEATURES = 2 * SAMPLING_CHANNELS[-1]


def fix_picture_size(picture: torch.Tensor) -> torch.Tensor:
    """Resize (N, 3, H, W) pictures to (N, 3, 256, 256), antialiased; a no-op at that size."""
    if picture.shape[-2:] == (FIXED_SIZE, FIXED_SIZE):
        return picture
    size = (FIXED_SIZE, FIXED_SIZE)
    return F.interpolate(picture, size=size, mode="bilinear", antialias=True)


class PictureSizeFixing(nn.Module):
    """The picture size fixing layer: ``fix_picture_size`` as the first layer of a network."""

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        return fix_picture_size(picture)


class MatrixTransformation(nn.Module):
    """A learnable 3×3 color matrix plus bias applied to every pixel; the identity at start."""

    def __init__(self) -> None:
        super().__init__()
        self.matrix = nn.Parameter(torch.eye(3))
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ij,njhw->nihw", self.matrix, picture) + self.bias.view(1, 3, 1, 1)


class SamplingLayers(nn.Module):
    """Strided 3×3 convolutions, 256² → 8², pooled to FEATURES numbers per picture.

    Instance normalisation follows the inner layers only: the first layer keeps the picture's
    own exposure and color balance, which is what an adaptive LUT has to react to. Mean and max
    pooling together let the features see both the overall cast and the extremes.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = (3, *SAMPLING_CHANNELS)
        for index, (inputs, outputs) in enumerate(zip(channels, channels[1:], strict=False)):
            layers += [nn.Conv2d(inputs, outputs, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            if 0 < index < len(SAMPLING_CHANNELS) - 1:
                layers.append(nn.InstanceNorm2d(outputs, affine=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        features = self.layers(picture)
        return torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)


class WeightModel(nn.Module):
    """Picture → one weight per basis LUT: size fixing, sampling layers, output layer."""

    def __init__(self, basis_count: int) -> None:
        super().__init__()
        self.size_fixing = PictureSizeFixing()
        self.sampling = SamplingLayers()
        self.output = nn.Linear(FEATURES, basis_count)

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) → (N, K) weights."""
        return self.output(self.sampling(self.size_fixing(picture)))


class LutGenerator(nn.Module):
    """Picture → a LUT residual (N, 3, D, D, D): size fixing, matrix transformation, sampling
    layers, and an output layer that emits a coarse lattice upsampled to D.

    The output layer starts at zero, so the generated residual starts at zero.
    """

    def __init__(self, lut_size: int, coarse_size: int) -> None:
        super().__init__()
        if not isinstance(coarse_size, int) or coarse_size < 2:
            raise ValueError(f"coarse_size must be an integer of at least 2, got {coarse_size!r}")
        self.lut_size = lut_size
        self.coarse_size = min(coarse_size, lut_size)  # never finer than the LUT itself
        self.size_fixing = PictureSizeFixing()
        self.matrix = MatrixTransformation()
        self.sampling = SamplingLayers()
        self.output = nn.Linear(FEATURES, 3 * self.coarse_size**3)
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        features = self.sampling(self.matrix(self.size_fixing(picture)))
        coarse = self.output(features).view(-1, 3, *(self.coarse_size,) * 3)
        size = (self.lut_size,) * 3
        return F.interpolate(coarse, size=size, mode="trilinear", align_corners=True)
