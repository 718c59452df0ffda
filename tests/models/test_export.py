"""sample_lut: the table a .cube export holds, for a basic model."""

from __future__ import annotations

import pytest
import torch

from lutcli.lut.interpolate import INTERPOLATIONS, apply_lut
from lutcli.lut.lattice import identity_lut
from lutcli.models.basic import BasicLookupModel
from lutcli.models.export import sample_lut


def random_model(size: int, generator: torch.Generator, interp: str) -> BasicLookupModel:
    model = BasicLookupModel(lut_size=size)
    with torch.no_grad():
        model.lut.copy_(torch.rand(3, size, size, size, generator=generator))
    model.interp = interp
    return model


@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("size", [17, 33])
def test_at_its_own_size_it_is_the_models_lut(size, interp, device, generator):
    model = random_model(size, generator, interp).to(device)

    table = sample_lut(model, size)

    assert table.device.type == "cpu" and not table.requires_grad
    assert torch.equal(table, model.lut.detach().cpu())


@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("size", [17, 12])
def test_at_another_size_it_resamples_the_lut(size, interp, generator):
    """Each exported lattice point is the model's interpolation of the LUT at that color."""
    model = random_model(33, generator, interp)

    table = sample_lut(model, size)

    lattice = identity_lut(size).reshape(1, 3, size * size, size)
    expected = apply_lut(lattice, model.lut.detach(), interp).reshape(3, size, size, size)
    assert table.shape == (3, size, size, size)
    assert (table - expected).abs().max() < 1e-6


def test_17_points_from_33_are_every_other_lattice_point(generator):
    model = random_model(33, generator, "trilinear")
    table = sample_lut(model, 17)
    assert (table - model.lut.detach()[:, ::2, ::2, ::2]).abs().max() < 1e-6


def test_a_basic_model_ignores_the_context(generator):
    model = random_model(9, generator, "trilinear")
    context = torch.rand(1, 3, 16, 16, generator=generator)
    assert torch.equal(sample_lut(model, 9, context=context), sample_lut(model, 9))
