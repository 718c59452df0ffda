"""The networks inside image-adaptive models: they look at the whole picture, at a fixed size.

Every adaptive part starts with a *picture size fixing layer* (the picture resized to 256×256,
whatever its size, so a 24 MP photo and its preview give the same answer), then *sampling
layers* (strided convolutions that extract picture features), then an *output layer*.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lutcli.models.base import MAX_LUT_SIZE, check_integer, fix_picture_size

# Channels of the five sampling layers (the learned-LUT literature's 5-layer predictor).
SAMPLING_CHANNELS = (16, 32, 64, 128, 128)
# Bins per channel of the color histogram among the color statistics.
HISTOGRAM_BINS = 8
# Color statistics are taken on the size-fixed picture averaged over blocks of this side.
STATISTICS_POOLING = 4
# Keeps the log of black finite in the log-average: about one 8-bit level.
LOG_OFFSET = 1 / 256
# Color statistics per picture: per channel, the mean, the standard deviation, the log-average
# and a histogram.
COLOR_STATISTICS = 3 * (3 + HISTOGRAM_BINS)
# Features per picture: mean and maximum of the last layer's channels, and the color statistics.
FEATURES = 2 * SAMPLING_CHANNELS[-1] + COLOR_STATISTICS


def color_statistics(picture: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, COLOR_STATISTICS): each channel's mean, standard deviation,
    log-average and soft histogram (triangular bins, so it changes smoothly with the colors).

    Exposure and color cast are global statistics, which instance normalisation removes from
    convolution features; these hand them to the output layer directly. They are taken on the
    picture averaged down by STATISTICS_POOLING on each side, which costs a sixteenth as much.
    """
    picture = F.avg_pool2d(picture, STATISTICS_POOLING)
    centers = torch.linspace(0, 1, HISTOGRAM_BINS, device=picture.device, dtype=picture.dtype)
    distance = (picture.clamp(0, 1).unsqueeze(-1) - centers).abs() * (HISTOGRAM_BINS - 1)
    histogram = F.relu(1 - distance).mean(dim=(2, 3))  # (N, 3, bins), each row sums to 1
    # The log-average (the "key" of tone mapping) weighs dark pixels as the eye does; casts
    # and exposure show in it more plainly than in the plain mean.
    log_average = torch.log(picture.clamp(0, 1) + LOG_OFFSET).mean(dim=(2, 3))
    moments = [picture.mean(dim=(2, 3)), picture.std(dim=(2, 3)), log_average]
    return torch.cat([*moments, histogram.flatten(1)], dim=1)


class PictureSizeFixing(nn.Module):
    """The picture size fixing layer: ``fix_picture_size`` as the first layer of a network."""

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        return fix_picture_size(picture)


class MatrixTransformation(nn.Module):
    """A learnable 3×3 color matrix plus bias applied to every pixel; the identity at start."""

    def __init__(self) -> None:
        super().__init__()
        # Not torch.eye: on the meta device, where models are sized, it imports torch's compiler.
        self.matrix = nn.Parameter(torch.zeros(3, 3).fill_diagonal_(1))
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ij,njhw->nihw", self.matrix, picture) + self.bias.view(1, 3, 1, 1)


class SamplingLayers(nn.Module):
    """Strided 3×3 convolutions, 256² → 8², pooled, with the picture's color statistics:
    FEATURES numbers per picture.

    Instance normalisation follows the inner layers only: the first layer keeps the picture's
    own exposure and color balance, which is what an adaptive LUT has to react to. Mean and max
    pooling together let the features see both the overall cast and the extremes.
    """

    # Set by ``use_mixed_precision``; never saved with a model, so applying one stays float32.
    mixed_precision = False

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
        with torch.autocast(picture.device.type, torch.bfloat16, enabled=self.mixed_precision):
            features = self.layers(picture)
        features = features.float()
        pooled = [features.mean(dim=(2, 3)), features.amax(dim=(2, 3))]
        return torch.cat([*pooled, color_statistics(picture)], dim=1)


def use_mixed_precision(model: nn.Module, enabled: bool) -> None:
    """Run the convolutions of ``model``'s picture networks in bfloat16, or back in float32.

    The convolutions are most of an adaptive model's arithmetic and what a GPU's tensor cores
    speed up; their pooled features go on in float32, as do the color statistics, the output
    layers and every LUT, where bfloat16's 8-bit mantissa would band the colors.
    """
    for module in model.modules():
        if isinstance(module, SamplingLayers):
            module.mixed_precision = enabled


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
        check_integer("coarse_size", coarse_size, 2, MAX_LUT_SIZE)
        self.lut_size = lut_size
        self.coarse_size = min(coarse_size, lut_size)  # never finer than the LUT itself
        self.size_fixing = PictureSizeFixing()
        self.matrix = MatrixTransformation()
        self.sampling = SamplingLayers()
        self.output = nn.Linear(FEATURES, 3 * self.coarse_size**3)
        self.reset_output()

    def reset_output(self) -> None:
        """Zero the output layer: every picture's residual is zero (the layers before it keep
        what they learned)."""
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        features = self.sampling(self.matrix(self.size_fixing(picture)))
        # Adam moves every weight by about the learning rate per step, so a lattice value fed by
        # FEATURES inputs would move FEATURES times further than a learned LUT cell does: the
        # division gives generated LUTs the pace of learned ones, and training stays stable.
        coarse = (self.output(features) / FEATURES).view(-1, 3, *(self.coarse_size,) * 3)
        size = (self.lut_size,) * 3
        return F.interpolate(coarse, size=size, mode="trilinear", align_corners=True)
