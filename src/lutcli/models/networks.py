"""The networks inside image-adaptive models: they look at the whole picture, at a fixed size.

Every adaptive part starts with a *picture size fixing layer* (the picture resized to 256×256,
whatever its size, so a 24 MP photo and its preview give the same answer), then *sampling
layers* (strided convolutions that extract picture features), then an *output layer*.
"""

from __future__ import annotations

from collections.abc import Callable

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
# Edge strength is taken on the size-fixed picture averaged over blocks of this side (a light
# blur that keeps edges but not single-pixel noise), as this Minkowski norm of the gradient:
# large enough that the strongest edges count most, as in grey-edge color constancy.
EDGE_POOLING = 2
EDGE_NORM = 5
# The darkest and brightest level of each channel among the color statistics of feature
# version 2, as these quantiles of its block averages (a few stray pixels do not move them).
LEVEL_QUANTILES = (0.01, 0.99)
# What the networks compute from a picture, by the version an adaptive model's config names
# ("features"):
# 1: the sampling layers' pooled features beside the raw color statistics (per channel: mean,
#    standard deviation, log-average, histogram); models saved before version 2 keep it.
# 2: the color statistics gain each channel's edge strength (and its log) and its darkest and
#    brightest levels, and are standardized by those of the training pictures, so the output
#    layer learns from each at the pace of its spread; the sampling layers' features enter
#    through a learned gate that starts at CONVOLUTION_GATE_START, so early training follows
#    what the statistics say and the convolutions are taken in as far as they help.
# 3: as 2, but the darkest and brightest levels are each channel's minimum and maximum on the
#    size-fixed picture: auto levels stretch a photo from its extremes, which the quantiles of
#    block averages blur (on the 70-photo auto-levels job, first-linear gained 1.1 dB).
FEATURE_VERSIONS = (1, 2, 3)
FEATURE_VERSION = 2
CONVOLUTION_GATE_START = 0.1
# Added (as a variance) to the spread of a standardized statistic: one that hardly varies over
# the training pictures is not blown up on a photo where it does.
STANDARDIZED_SPREAD_FLOOR = 0.01
# A standardized statistic is held within this many spreads of the training pictures' center:
# a photo unlike any training picture is read as the most extreme of them, not extrapolated to
# (unbounded, one such statistic swung the auto-levels correction of an unseen photo by 5 dB).
STANDARDIZED_LIMIT = 3.0


def color_statistics_count(version: int) -> int:
    """Color statistics per picture in feature ``version``."""
    return 3 * (3 + HISTOGRAM_BINS) + (3 * (2 + len(LEVEL_QUANTILES)) if version >= 2 else 0)


def feature_count(version: int) -> int:
    """Numbers per picture that the output layer reads in feature ``version``: mean and maximum
    of the last sampling layer's channels, and the color statistics."""
    return 2 * SAMPLING_CHANNELS[-1] + color_statistics_count(version)


def color_statistics(picture: torch.Tensor, version: int = FEATURE_VERSION) -> torch.Tensor:
    """(N, 3, H, W) → (N, color_statistics_count(version)): each channel's mean, standard
    deviation, log-average and soft histogram (triangular bins, so it changes smoothly with the
    colors), and from version 2 its edge strength, the log of it, and its darkest and brightest
    levels (LEVEL_QUANTILES of the block averages; from version 3, the minimum and maximum).

    Exposure and color cast are global statistics, which instance normalisation removes from
    convolution features; these hand them to the output layer directly. They are taken on the
    picture averaged down by STATISTICS_POOLING on each side, which costs a sixteenth as much.
    """
    pooled = F.avg_pool2d(picture, STATISTICS_POOLING)
    centers = torch.linspace(0, 1, HISTOGRAM_BINS, device=picture.device, dtype=picture.dtype)
    distance = (pooled.clamp(0, 1).unsqueeze(-1) - centers).abs() * (HISTOGRAM_BINS - 1)
    histogram = F.relu(1 - distance).mean(dim=(2, 3))  # (N, 3, bins), each row sums to 1
    # The log-average (the "key" of tone mapping) weighs dark pixels as the eye does; casts
    # and exposure show in it more plainly than in the plain mean.
    log_average = torch.log(pooled.clamp(0, 1) + LOG_OFFSET).mean(dim=(2, 3))
    moments = [pooled.mean(dim=(2, 3)), pooled.std(dim=(2, 3)), log_average]
    statistics = [*moments, histogram.flatten(1)]
    if version >= 2:
        edges = edge_strength(picture)
        # A cast multiplies a channel's edges: in the log, it is an offset.
        statistics += [edges, torch.log(edges + LOG_OFFSET)]
        # The darkest and brightest levels, what exposure and contrast corrections stretch.
        if version >= 3:
            statistics += [picture.amin(dim=(2, 3)), picture.amax(dim=(2, 3))]
        else:
            quantiles = torch.tensor(LEVEL_QUANTILES, dtype=pooled.dtype, device=pooled.device)
            statistics += list(torch.quantile(pooled.flatten(2), quantiles, dim=2))
    return torch.cat(statistics, dim=1)


def edge_strength(picture: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, 3): each channel's EDGE_NORM-norm of its gradient magnitude on the
    picture averaged over EDGE_POOLING-sided blocks. The colors of a scene's edges are nearly
    grey whatever its objects' colors (the grey-edge hypothesis), so their balance tells the
    light's cast where the mean color is swayed by what the photo shows."""
    pooled = F.avg_pool2d(picture, EDGE_POOLING)
    across = pooled[..., 1:, 1:] - pooled[..., 1:, :-1]
    down = pooled[..., 1:, 1:] - pooled[..., :-1, 1:]
    magnitude = torch.sqrt(across**2 + down**2 + 1e-12)
    return (magnitude**EDGE_NORM).mean(dim=(2, 3)).clamp_min(1e-30) ** (1 / EDGE_NORM)


def check_feature_version(version: int) -> int:
    """``version`` if it is one of FEATURE_VERSIONS; ValueError naming them otherwise."""
    if version not in FEATURE_VERSIONS or isinstance(version, bool):
        raise ValueError(f"features must be one of {FEATURE_VERSIONS}, got {version!r}")
    return version


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
    ``feature_count(version)`` numbers per picture.

    Instance normalisation follows the inner layers only: the first layer keeps the picture's
    own exposure and color balance, which is what an adaptive LUT has to react to. Mean and max
    pooling together let the features see both the overall cast and the extremes. From feature
    version 2, the pooled features pass through ``gate`` and the statistics are standardized
    (``statistics_center``, ``statistics_scale``: set by ``standardize_statistics`` before
    training, saved with the model) and held within STANDARDIZED_LIMIT.
    """

    # Set by ``use_mixed_precision``; never saved with a model, so applying one stays float32.
    mixed_precision = False

    def __init__(self, version: int = FEATURE_VERSION) -> None:
        super().__init__()
        self.version = check_feature_version(version)
        layers: list[nn.Module] = []
        channels = (3, *SAMPLING_CHANNELS)
        for index, (inputs, outputs) in enumerate(zip(channels, channels[1:], strict=False)):
            layers += [nn.Conv2d(inputs, outputs, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            if 0 < index < len(SAMPLING_CHANNELS) - 1:
                layers.append(nn.InstanceNorm2d(outputs, affine=True))
        self.layers = nn.Sequential(*layers)
        if version >= 2:
            count = color_statistics_count(version)
            self.gate = nn.Parameter(torch.full((), CONVOLUTION_GATE_START))
            self.register_buffer("statistics_center", torch.zeros(count))
            self.register_buffer("statistics_scale", torch.ones(count))

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        with torch.autocast(picture.device.type, torch.bfloat16, enabled=self.mixed_precision):
            features = self.layers(picture)
        features = features.float()
        pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)
        statistics = color_statistics(picture, self.version)
        if self.version >= 2:
            pooled = pooled * self.gate
            statistics = (statistics - self.statistics_center) / self.statistics_scale
            statistics = statistics.clamp(-STANDARDIZED_LIMIT, STANDARDIZED_LIMIT)
        return torch.cat([pooled, statistics], dim=1)


@torch.no_grad()
def standardize_statistics(model: nn.Module, look: Callable[[], None]) -> None:
    """Center and scale the color statistics of every sampling layer of ``model`` (feature
    version 2) by those of the pictures it sees while ``look()`` runs the model on training
    pictures: each statistic then varies by about 1 over them, whatever its units."""
    layers = [m for m in model.modules() if isinstance(m, SamplingLayers) and m.version >= 2]
    if not layers:
        return
    seen: dict[SamplingLayers, list[torch.Tensor]] = {layer: [] for layer in layers}

    def record(layer: SamplingLayers, arguments: tuple[torch.Tensor]) -> None:
        seen[layer].append(color_statistics(arguments[0], layer.version))

    hooks = [layer.register_forward_pre_hook(record) for layer in layers]
    try:
        look()
    finally:
        for hook in hooks:
            hook.remove()
    for layer, statistics in seen.items():
        rows = torch.cat(statistics)
        if len(rows) < 2:  # one picture: no spread to learn from
            continue
        layer.statistics_center.copy_(rows.mean(dim=0))
        spread = rows.var(dim=0) + STANDARDIZED_SPREAD_FLOOR**2
        layer.statistics_scale.copy_(spread.sqrt())


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

    def __init__(self, basis_count: int, version: int = FEATURE_VERSION) -> None:
        super().__init__()
        self.size_fixing = PictureSizeFixing()
        self.sampling = SamplingLayers(version)
        self.output = nn.Linear(feature_count(version), basis_count)

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) → (N, K) weights."""
        return self.output(self.sampling(self.size_fixing(picture)))


class LutGenerator(nn.Module):
    """Picture → a LUT residual (N, 3, D, D, D): size fixing, matrix transformation, sampling
    layers, and an output layer that emits a coarse lattice upsampled to D.

    The output layer starts at zero, so the generated residual starts at zero.
    """

    def __init__(self, lut_size: int, coarse_size: int, version: int = FEATURE_VERSION) -> None:
        super().__init__()
        check_integer("coarse_size", coarse_size, 2, MAX_LUT_SIZE)
        self.lut_size = lut_size
        self.coarse_size = min(coarse_size, lut_size)  # never finer than the LUT itself
        self.size_fixing = PictureSizeFixing()
        self.matrix = MatrixTransformation()
        self.sampling = SamplingLayers(version)
        self.features = feature_count(version)
        self.output = nn.Linear(self.features, 3 * self.coarse_size**3)
        self.reset_output()

    def reset_output(self) -> None:
        """Zero the output layer: every picture's residual is zero (the layers before it keep
        what they learned)."""
        nn.init.zeros_(self.output.weight)
        nn.init.zeros_(self.output.bias)

    def forward(self, picture: torch.Tensor) -> torch.Tensor:
        features = self.sampling(self.matrix(self.size_fixing(picture)))
        # Adam moves every weight by about the learning rate per step, so a lattice value fed by
        # as many inputs as there are features would move that many times further than a
        # learned LUT cell does: the division gives generated LUTs the pace of learned ones,
        # and training stays stable.
        coarse = (self.output(features) / self.features).view(-1, 3, *(self.coarse_size,) * 3)
        size = (self.lut_size,) * 3
        return F.interpolate(coarse, size=size, mode="trilinear", align_corners=True)
