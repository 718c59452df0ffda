"""Training losses: the LUT regularizers and PSNR, against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio

from lutcli.lut.lattice import identity_lut
from lutcli.training.losses import monotonicity, psnr_from_mse, smoothness

SIZE = 9


def lut_from(function) -> torch.Tensor:
    """The (3, D, D, D) ``[c, b, g, r]`` LUT of ``function(r, g, b) -> (R, G, B)``."""
    r, g, b = identity_lut(SIZE)
    return torch.stack(function(r, g, b))


def test_smoothness_of_the_identity_is_the_lattice_step_squared():
    # Only the channel of each axis changes along it, by 1/(D-1): mean over the 3 channels of
    # step² along each of the 3 axes.
    step = 1 / (SIZE - 1)
    assert smoothness(identity_lut(SIZE)).item() == pytest.approx(step**2, rel=1e-5)


def test_smoothness_grows_with_noise_in_the_lattice(generator):
    # Noise of deviation s adds about 2 s² per axis (the variance of a difference of two noisy
    # values), 6 s² in all.
    identity = identity_lut(SIZE)
    scores = []
    for deviation in (0.05, 0.2):
        noisy = identity + deviation * torch.randn(identity.shape, generator=generator)
        added = (smoothness(noisy) - smoothness(identity)).item()
        assert added == pytest.approx(6 * deviation**2, rel=0.2)
        scores.append(smoothness(noisy).item())
    assert smoothness(identity).item() < scores[0] < scores[1]


def test_smoothness_of_a_batch_of_luts_is_their_mean(generator):
    luts = identity_lut(SIZE) + 0.1 * torch.randn(2, 3, SIZE, SIZE, SIZE, generator=generator)
    expected = (smoothness(luts[0]) + smoothness(luts[1])) / 2
    assert smoothness(luts).item() == pytest.approx(expected.item(), rel=1e-5)


def test_monotonicity_of_the_identity_is_zero():
    assert monotonicity(identity_lut(SIZE)).item() == 0


def test_monotonicity_allows_any_look_that_keeps_each_channel_increasing_on_its_own_axis():
    # Each output channel rises along its own input axis; across the other axes it may do
    # anything (fall, wave): that is a color shift, not a tone inversion.
    lut = lut_from(
        lambda r, g, b: (
            r**2 - 0.5 * g + 0.1 * torch.sin(7 * b),
            torch.sqrt(g) - 0.3 * r * b,
            b**3 + torch.cos(5 * r) - g,
        )
    )
    assert monotonicity(lut).item() == 0


def test_monotonicity_measures_how_much_red_falls_as_input_red_rises():
    # R = 1 - r: every step along r lowers R by 1/(D-1); G and B keep the identity.
    inverted = lut_from(lambda r, g, b: (1 - r, g, b))
    assert monotonicity(inverted).item() == pytest.approx(1 / (SIZE - 1), rel=1e-5)
    # Half as steep a fall, half the penalty.
    half = lut_from(lambda r, g, b: (1 - 0.5 * r, g, b))
    assert monotonicity(half).item() == pytest.approx(0.5 / (SIZE - 1), rel=1e-5)


@pytest.mark.parametrize("channel", [0, 1, 2])
def test_monotonicity_sees_an_inversion_on_every_channel(channel):
    lut = identity_lut(SIZE)
    lut[channel] = 1 - lut[channel]
    assert monotonicity(lut).item() > 0


@pytest.mark.parametrize("regularizer", [smoothness, monotonicity])
def test_a_gradient_step_on_a_regularizer_lowers_it(regularizer, generator):
    noise = 0.05 * torch.randn(3, SIZE, SIZE, SIZE, generator=generator)
    lut = (lut_from(lambda r, g, b: (1 - r, g, b)) + noise).requires_grad_(True)
    regularizer(lut).backward()
    assert regularizer(lut.detach() - 1.0 * lut.grad) < regularizer(lut.detach())


def test_psnr_of_identical_pictures_is_infinite():
    assert psnr_from_mse(0.0) == math.inf


def test_psnr_of_a_known_error_matches_scikit_image(generator):
    target = 0.1 + 0.8 * torch.rand(3, 16, 16, generator=generator)
    assert psnr_from_mse(1e-4) == pytest.approx(40.0, abs=1e-9)
    # Half the pixels off by 0.1: MSE 0.005.
    off = target.clone()
    off[..., :8] += 0.1
    mse = torch.mean((off - target) ** 2).item()
    expected = peak_signal_noise_ratio(target.numpy(), off.numpy(), data_range=1.0)
    assert psnr_from_mse(mse) == pytest.approx(expected, abs=1e-4)
    assert expected == pytest.approx(-10 * math.log10(0.005), abs=1e-3)
