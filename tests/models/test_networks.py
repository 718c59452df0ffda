"""The picture networks: what exposure and color cast look like to an adaptive model, and the
precision they run in."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lutcli.models.networks import (
    CONVOLUTION_GATE_START,
    FEATURE_VERSION,
    HISTOGRAM_BINS,
    LOG_OFFSET,
    STANDARDIZED_LIMIT,
    SamplingLayers,
    color_statistics,
    color_statistics_count,
    edge_strength,
    feature_count,
    fix_picture_size,
    standardize_statistics,
    use_mixed_precision,
)
from lutcli.models.registry import create_model


def split(statistics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean (N, 3), standard deviation (N, 3), histogram (N, 3, bins))."""
    return (
        statistics[:, :3],
        statistics[:, 3:6],
        statistics[:, 9 : 9 + 3 * HISTOGRAM_BINS].view(-1, 3, HISTOGRAM_BINS),
    )


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
    assert statistics.shape == (2, color_statistics_count(FEATURE_VERSION))
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
    assert features.shape == (1, feature_count(FEATURE_VERSION))
    assert feature_count(FEATURE_VERSION) == layers.layers[-2].out_channels * 2 + len(
        layers.statistics_center
    )


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


def textured(seed: int = 0) -> torch.Tensor:
    """A (1, 3, 256, 256) picture with edges in every channel: blocks of random grey levels."""
    generator = torch.Generator().manual_seed(seed)
    blocks = torch.rand(1, 1, 16, 16, generator=generator)
    return F.interpolate(blocks, size=(256, 256), mode="nearest").repeat(1, 3, 1, 1) * 0.8


def test_a_cast_scales_its_channels_edge_strength_and_a_lifted_black_does_not_change_it():
    picture = textured()
    gains = torch.tensor([0.5, 1.0, 0.9]).view(1, 3, 1, 1)
    cast = picture * gains + 0.1  # a cast and lifted blacks
    ratio = edge_strength(cast) / edge_strength(picture)
    torch.testing.assert_close(ratio, gains.view(1, 3), rtol=1e-4, atol=0)
    flat = torch.full((1, 3, 64, 64), 0.4)
    assert edge_strength(flat).max().item() < 1e-5


def test_version_2_statistics_add_edge_strength_its_log_and_the_darkest_and_brightest_levels():
    picture = textured()
    statistics = color_statistics(picture, 2)
    first = color_statistics_count(1)
    assert statistics.shape == (1, first + 12) == (1, color_statistics_count(2))
    torch.testing.assert_close(statistics[:, :first], color_statistics(picture, 1))
    edges = edge_strength(picture)
    torch.testing.assert_close(statistics[:, first : first + 3], edges)
    torch.testing.assert_close(statistics[:, first + 3 : first + 6], torch.log(edges + LOG_OFFSET))
    # Blocks of two levels, each channel its own: those levels, and one stray pixel moves neither.
    two_levels = (textured() > 0.4).float() * torch.tensor([0.6, 0.5, 0.4]).view(1, 3, 1, 1)
    two_levels = two_levels + torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1)
    two_levels[..., 5, 5] = 1.0
    levels = color_statistics(two_levels, 2)[0, first + 6 :]
    expected = torch.tensor([0.1, 0.2, 0.3, 0.7, 0.7, 0.7])
    torch.testing.assert_close(levels, expected)


def test_version_3_levels_are_each_channels_extremes_and_the_rest_is_version_2():
    # Auto levels stretch a photo from its darkest and brightest pixels: one bright pixel moves
    # version 3's brightest level to it, where version 2's quantile of block averages ignores it.
    picture = textured() * torch.tensor([0.6, 0.5, 0.4]).view(1, 3, 1, 1) + 0.1
    picture[..., 5, 5] = torch.tensor([1.0, 0.9, 0.8])
    version_2, version_3 = color_statistics(picture, 2), color_statistics(picture, 3)
    assert version_3.shape == version_2.shape == (1, color_statistics_count(3))
    levels = color_statistics_count(2) - 6
    torch.testing.assert_close(version_3[:, :levels], version_2[:, :levels])
    torch.testing.assert_close(version_3[0, levels : levels + 3], picture.amin(dim=(0, 2, 3)))
    torch.testing.assert_close(version_3[0, levels + 3 :], torch.tensor([1.0, 0.9, 0.8]))
    assert torch.all(version_2[0, levels + 3 :] < torch.tensor([0.8, 0.7, 0.6]))


def test_standardized_statistics_vary_by_about_one_over_the_pictures_they_were_taken_on():
    torch.manual_seed(0)
    pictures = [textured(seed) * torch.rand(1, 3, 1, 1) for seed in range(12)]
    layers = SamplingLayers()
    standardize_statistics(layers, lambda: [layers(picture) for picture in pictures])
    count = len(layers.statistics_center)
    raw = torch.cat([color_statistics(picture) for picture in pictures])
    standardized = (raw - layers.statistics_center) / layers.statistics_scale
    torch.testing.assert_close(standardized.mean(dim=0), torch.zeros(count), atol=1e-4, rtol=0)
    varying = raw.std(dim=0) > 0.05  # well above the floor: scaled to a spread of about 1
    assert varying.sum() >= 20
    spread = standardized.std(dim=0)[varying]
    assert torch.all((spread > 0.97) & (spread <= 1.0 + 1e-4))
    # What the output layer reads: these, held within the limit.
    with torch.no_grad():
        read = torch.cat([layers(picture)[:, -count:] for picture in pictures])
    limited = standardized.clamp(-STANDARDIZED_LIMIT, STANDARDIZED_LIMIT)
    torch.testing.assert_close(read, limited)


def test_a_photo_unlike_the_training_pictures_is_read_as_the_most_extreme_of_them():
    torch.manual_seed(0)
    pictures = [textured(seed) * (0.8 + 0.2 * torch.rand(1, 3, 1, 1)) for seed in range(12)]
    layers = SamplingLayers()
    standardize_statistics(layers, lambda: [layers(picture) for picture in pictures])
    count = len(layers.statistics_center)
    unlike = textured(99) * torch.tensor([1.2, 0.1, 0.05]).view(1, 3, 1, 1)  # a deep red cast
    with torch.no_grad():
        standardized = layers(unlike)[0, -count:]
    raw = (color_statistics(unlike)[0] - layers.statistics_center) / layers.statistics_scale
    assert raw.abs().max() > 10 * STANDARDIZED_LIMIT  # far beyond anything seen in training
    assert standardized.abs().max().item() == pytest.approx(STANDARDIZED_LIMIT)
    within = raw.abs() < STANDARDIZED_LIMIT
    torch.testing.assert_close(standardized[within], raw[within])


def test_one_picture_leaves_the_statistics_as_they_are():
    layers = SamplingLayers()
    standardize_statistics(layers, lambda: layers(textured()))
    assert torch.equal(layers.statistics_center, torch.zeros_like(layers.statistics_center))
    assert torch.equal(layers.statistics_scale, torch.ones_like(layers.statistics_scale))


def test_a_model_without_version_2_networks_is_not_run_to_standardize():
    looked = []
    standardize_statistics(create_model("first-linear", lut_size=5, features=1), looked.append)
    standardize_statistics(create_model("basic", lut_size=5), looked.append)
    assert looked == []


def test_the_convolution_features_start_through_a_small_gate_and_version_1_has_none():
    torch.manual_seed(0)
    picture = textured()
    layers = SamplingLayers()
    assert layers.gate.item() == pytest.approx(CONVOLUTION_GATE_START)
    ungated = SamplingLayers(1)
    ungated.layers.load_state_dict(layers.layers.state_dict())
    channels = 2 * layers.layers[-2].out_channels
    with torch.no_grad():
        torch.testing.assert_close(
            layers(picture)[:, :channels], CONVOLUTION_GATE_START * ungated(picture)[:, :channels]
        )
    assert not hasattr(ungated, "gate") and "statistics_center" not in ungated.state_dict()
