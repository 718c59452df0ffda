"""fit_lut: the exact least-squares LUT, checked against the trainer's own loss."""

from __future__ import annotations

import pytest
import torch

from lutcli.lut.fit import fit_lut
from lutcli.lut.interpolate import apply_lut
from lutcli.lut.lattice import identity_lut
from lutcli.training.losses import smoothness


def smooth_lut(size: int, generator: torch.Generator) -> torch.Tensor:
    """A random smooth LUT: a color matrix of the identity plus a gentle wave per channel."""
    lattice = identity_lut(size)
    matrix = torch.eye(3) + 0.1 * torch.randn(3, 3, generator=generator)
    phase = torch.randn(3, 1, 1, 1, generator=generator)
    return torch.einsum("ij,jbgr->ibgr", matrix, lattice) + 0.05 * torch.sin(
        3 * lattice.roll(1, dims=0) + phase
    )


def lookup(colors: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """(3, P) colors through ``lut`` with apply_lut (trilinear), as (3, P)."""
    count = colors.shape[1]
    return apply_lut(colors.reshape(1, 3, 1, count), lut).reshape(3, count)


def training_loss(lut, inputs, targets, weight) -> torch.Tensor:
    """The trainer's objective without monotonicity: MSE over all values + weight * smoothness."""
    return torch.mean((lookup(inputs, lut) - targets) ** 2) + weight * smoothness(lut)


def test_recovers_data_that_a_lut_can_represent(generator):
    true_lut = smooth_lut(9, generator)
    inputs = torch.rand(3, 5_000, generator=generator)  # about 7 colors per lattice cell
    targets = lookup(inputs, true_lut)

    fitted = fit_lut(inputs, targets, 9, smoothness_weight=1e-6)

    assert fitted.shape == (3, 9, 9, 9) and fitted.dtype == torch.float32
    assert (lookup(inputs, fitted) - targets).abs().max() < 1e-4
    assert (fitted - true_lut).abs().max() < 1e-3


def test_unseen_cells_are_filled_smoothly(generator):
    """Colors only in the dark sub-cube r, g, b < 0.5: the rest of the lattice is extrapolated
    by the smoothness term, finite, without steps and without overshooting the seen values."""
    size = 9
    inputs = 0.5 * torch.rand(3, 5_000, generator=generator)
    targets = 0.1 + 0.6 * inputs + 0.4 * inputs.flip(0) ** 2

    fitted = fit_lut(inputs, targets, size, smoothness_weight=1e-4)

    assert torch.isfinite(fitted).all()
    seen = fitted[:, :5, :5, :5]  # lattice points 0 .. 0.5 on each axis
    assert (lookup(inputs, fitted) - targets).abs().max() < 5e-3
    # No step between neighbours anywhere is steeper than the steepest step the data shows.
    steepest_seen = max(seen.diff(dim=axis).abs().max() for axis in (1, 2, 3))
    assert max(fitted.diff(dim=axis).abs().max() for axis in (1, 2, 3)) <= steepest_seen + 1e-6
    for channel in range(3):
        low, high = seen[channel].min(), seen[channel].max()
        assert fitted[channel].min() >= low - 1e-4
        assert fitted[channel].max() <= high + 1e-4


def test_solution_is_the_minimum_of_the_training_loss(generator):
    """Noisy targets no LUT fits exactly: the fit is the optimum of MSE + w * smoothness as the
    trainer computes it, so no small perturbation lowers that loss and its gradient vanishes."""
    size, weight = 7, 1e-3
    inputs = torch.rand(3, 5_000, generator=generator)
    noise = 0.05 * torch.randn(3, 5_000, generator=generator)
    targets = (inputs**0.7 + noise).clamp(0, 1)

    fitted = fit_lut(inputs, targets, size, weight).double()

    x, y = inputs.double(), targets.double()
    best = training_loss(fitted, x, y, weight).item()
    for scale in (1e-3, 1e-4):
        for _ in range(20):
            step = scale * torch.randn(fitted.shape, generator=generator, dtype=torch.float64)
            assert training_loss(fitted + step, x, y, weight).item() > best

    def gradient_norm(lut: torch.Tensor) -> float:
        lut = lut.clone().requires_grad_(True)
        training_loss(lut, x, y, weight).backward()
        return lut.grad.norm().item()

    assert gradient_norm(fitted) < 1e-4 * gradient_norm(identity_lut(size).double())


def test_duplicate_colors_are_merged(generator):
    """The same pixels three times give the same LUT; one color with several targets counts as
    their mean."""
    true_lut = smooth_lut(5, generator)
    inputs = torch.rand(3, 2_000, generator=generator)
    targets = lookup(inputs, true_lut) + 0.02 * torch.randn(3, 2_000, generator=generator)
    fitted = fit_lut(inputs, targets, 5, smoothness_weight=1e-3)

    tripled = fit_lut(inputs.repeat(1, 3), targets.repeat(1, 3), 5, smoothness_weight=1e-3)
    assert (tripled - fitted).abs().max() < 1e-5

    spread = 0.1 * torch.randn(3, 2_000, generator=generator)
    pairs = fit_lut(
        torch.cat([inputs, inputs], dim=1),
        torch.cat([targets + spread, targets - spread], dim=1),
        5,
        smoothness_weight=1e-3,
    )
    assert (pairs - fitted).abs().max() < 1e-5


@pytest.mark.parametrize("weight", [0.0, -1e-4])
def test_needs_a_positive_smoothness_weight(weight, generator):
    colors = torch.rand(3, 100, generator=generator)
    with pytest.raises(ValueError, match="positive smoothness weight"):
        fit_lut(colors, colors, 5, smoothness_weight=weight)
