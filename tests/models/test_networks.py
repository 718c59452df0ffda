"""The picture networks: what exposure and color cast look like to an adaptive model, and the
precision they run in."""

from __future__ import annotations

import math

import pytest
import torch

from lutcli.models.networks import (
    COLOR_STATISTICS,
    HISTOGRAM_BINS,
    LOG_OFFSET,
    SamplingLayers,
    color_statistics,
    fix_picture_size,
    use_mixed_precision,
)
from lutcli.models.registry import create_model


def split(statistics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean (N, 3), standard deviation (N, 3), histogram (N, 3, bins))."""
    return statistics[:, :3], statistics[:, 3:6], statistics[:, 9:].view(-1, 3, HISTOGRAM_BINS)


def test_the_log_average_is_the_mean_of_the_log_and_weighs_dark_pixels() -> None:
    # Half the pixels black, half white: the plain mean is 0.5; the log-average is far below.
    picture = torch.cat([torch.zeros(1, 3, 32, 64), torch.ones(1, 3, 32, 64)], dim=2)
    log_average = color_statistics(picture)[:, 6:9]
    expected = (math.log(LOG_OFFSET) + math.log(1 + LOG_OFFSET)) / 2
    torch.testing.assert_close(log_average, torch.full((1, 3), expected), atol=1e-4, rtol=0)


def test_the_statistics_are_each_channels_mean_spread_and_histogram() -> None:
    torch.manual_seed(0)
    picture = torch.rand(2, 3, 256, 256) * torch.tensor([0.2, 0.6, 1.0]).view(1, 3, 1, 1)
    statistics = color_statistics(picture)
    assert statistics.shape == (2, COLOR_STATISTICS)
    mean, spread, histogram = split(statistics)
    torch.testing.assert_close(mean, picture.mean(dim=(2, 3)), atol=1e-5, rtol=0)
    assert torch.all(spread[:, 0] < spread[:, 1]) and torch.all(spread[:, 1] < spread[:, 2])
    torch.testing.assert_close(histogram.sum(dim=-1), torch.ones(2, 3))


def test_a_color_cast_moves_that_channels_histogram_only() -> None:
    torch.manual_seed(0)
    picture = torch.rand(1, 3, 64, 64) * 0.5
    cast = picture.clone()
    cast[:, 0] += 0.4  # a red cast
    _, _, before = split(color_statistics(picture))
    _, _, after = split(color_statistics(cast))
    centers = torch.linspace(0, 1, HISTOGRAM_BINS)
    assert (after[0, 0] * centers).sum() == pytest.approx((before[0, 0] * centers).sum() + 0.4)
    torch.testing.assert_close(after[0, 1:], before[0, 1:])


def test_colors_outside_the_unit_cube_count_in_the_end_bins() -> None:
    picture = torch.full((1, 3, 8, 8), 1.5)
    _, _, histogram = split(color_statistics(picture))
    assert histogram[0, :, -1].tolist() == [1.0, 1.0, 1.0]


def test_sampling_layers_give_one_feature_vector_per_picture_whatever_its_size() -> None:
    torch.manual_seed(0)
    layers = SamplingLayers()
    picture = torch.rand(1, 3, 300, 200)
    features = layers(fix_picture_size(picture))
    assert features.shape == (1, layers.layers[-2].out_channels * 2 + COLOR_STATISTICS)


def test_mixed_precision_runs_the_convolutions_in_bfloat16_and_keeps_the_lut_float32() -> None:
    torch.manual_seed(0)
    model = create_model("second-linear", lut_size=17)  # a network generates its LUT
    with torch.no_grad():  # one that generates something, so the outputs can differ
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0, 0.02)
    picture = torch.rand(2, 3, 64, 96)
    exact = model(picture)
    use_mixed_precision(model, True)
    mixed = model(picture)
    assert mixed.dtype == torch.float32
    difference = (mixed - exact).abs().max().item()
    assert 0 < difference < 0.5 / 255  # bfloat16 ran; an output moved by under half a level
    mixed.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    use_mixed_precision(model, False)
    assert torch.equal(model(picture), exact)
