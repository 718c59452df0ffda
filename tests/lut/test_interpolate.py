"""apply_lut against independent computations: grid_sample, a per-pixel loop, colour-science."""

from __future__ import annotations

import colour
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lutcli.errors import LutcliError
from lutcli.kernels import cuda
from lutcli.lut import interpolate
from lutcli.lut.interpolate import apply_lut
from lutcli.lut.lattice import identity_lut


def random_lut(size: int, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    return (identity_lut(size) + 0.1 * torch.randn(3, size, size, size, generator=generator)).to(
        dtype
    )


def grid_sample_reference(image: torch.Tensor, lut: torch.Tensor) -> torch.Tensor:
    """Trilinear by torch's grid_sample: lut as a 3-channel volume [b, g, r], grid as (r, g, b)."""
    volume = lut.expand(image.shape[0], -1, -1, -1, -1) if lut.dim() == 4 else lut
    if volume.dim() == 4:
        volume = volume.unsqueeze(0)
    grid = (image * 2 - 1).permute(0, 2, 3, 1).unsqueeze(1)
    return F.grid_sample(volume, grid, mode="bilinear", align_corners=True).squeeze(2)


def tetrahedral_loop(rgb: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Textbook tetrahedral interpolation, one pixel at a time, with its six explicit cases."""
    size = lut.shape[-1]
    table = lut.transpose(3, 2, 1, 0)  # [r, g, b, c]
    out = np.empty_like(rgb)
    for n, color in enumerate(rgb):
        x = np.clip(color, 0, 1) * (size - 1)
        i = np.minimum(np.floor(x).astype(int), size - 2)
        r, g, b = x - i
        c = {
            k: table[i[0] + k[0], i[1] + k[1], i[2] + k[2]]
            for k in [(a, d, e) for a in (0, 1) for d in (0, 1) for e in (0, 1)]
        }
        if r >= g >= b:
            v = (1 - r) * c[0, 0, 0] + (r - g) * c[1, 0, 0] + (g - b) * c[1, 1, 0] + b * c[1, 1, 1]
        elif r >= b >= g:
            v = (1 - r) * c[0, 0, 0] + (r - b) * c[1, 0, 0] + (b - g) * c[1, 0, 1] + g * c[1, 1, 1]
        elif b >= r >= g:
            v = (1 - b) * c[0, 0, 0] + (b - r) * c[0, 0, 1] + (r - g) * c[1, 0, 1] + g * c[1, 1, 1]
        elif g >= r >= b:
            v = (1 - g) * c[0, 0, 0] + (g - r) * c[0, 1, 0] + (r - b) * c[1, 1, 0] + b * c[1, 1, 1]
        elif g >= b >= r:
            v = (1 - g) * c[0, 0, 0] + (g - b) * c[0, 1, 0] + (b - r) * c[0, 1, 1] + r * c[1, 1, 1]
        else:
            v = (1 - b) * c[0, 0, 0] + (b - g) * c[0, 0, 1] + (g - r) * c[0, 1, 1] + r * c[1, 1, 1]
        out[n] = v
    return out


@pytest.mark.parametrize("size", [2, 5, 33])
@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (32, 20)])
def test_trilinear_matches_grid_sample(size, shape, generator, device):
    lut = random_lut(size, generator).to(device)
    image = torch.rand(2, 3, *shape, generator=generator).to(device)
    expected = grid_sample_reference(image, lut)
    assert torch.allclose(apply_lut(image, lut), expected, atol=1e-5)


@pytest.mark.parametrize("interp", interpolate.INTERPOLATIONS)
def test_identity_lut_returns_the_image(interp, generator, device):
    image = torch.rand(3, 3, 9, 11, generator=generator).to(device)
    assert torch.allclose(apply_lut(image, identity_lut(17, device), interp), image, atol=1e-6)


@pytest.mark.parametrize("interp", interpolate.INTERPOLATIONS)
def test_lattice_points_return_table_values_exactly(interp, generator):
    size = 5
    lut = random_lut(size, generator, torch.float64)
    lattice = identity_lut(size).to(torch.float64).reshape(1, 3, size * size, size)
    out = apply_lut(lattice, lut, interp).reshape(3, size, size, size)
    assert torch.allclose(out, lut, atol=1e-12)


def test_tetrahedral_matches_textbook_loop(generator):
    lut = random_lut(6, generator, torch.float64)
    # Random colors, plus colors on cell faces and the cube's edges where the cases meet.
    colors = torch.cat(
        [
            torch.rand(400, 3, generator=generator, dtype=torch.float64),
            torch.tensor([[0.2, 0.2, 0.7], [1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]),
        ]
    )
    image = colors.T.reshape(1, 3, -1, 1)
    ours = apply_lut(image, lut, "tetrahedral").reshape(3, -1).T.numpy()
    np.testing.assert_allclose(ours, tetrahedral_loop(colors.numpy(), lut.numpy()), atol=1e-12)


def test_tetrahedral_matches_colour_science(generator):
    lut = random_lut(9, generator, torch.float64)
    colors = torch.rand(500, 3, generator=generator, dtype=torch.float64)
    image = colors.T.reshape(1, 3, -1, 1)
    ours = apply_lut(image, lut, "tetrahedral").reshape(3, -1).T.numpy()
    table = lut.numpy().transpose(3, 2, 1, 0)  # colour-science indexes [r, g, b, c]
    theirs = colour.algebra.table_interpolation_tetrahedral(colors.numpy(), table)
    np.testing.assert_allclose(ours, theirs, atol=1e-10)


def test_one_lut_per_image_in_a_batch(generator, device):
    luts = torch.stack([random_lut(7, generator) for _ in range(3)]).to(device)
    image = torch.rand(3, 3, 8, 8, generator=generator).to(device)
    batched = apply_lut(image, luts)
    for n in range(3):
        assert torch.allclose(batched[n], apply_lut(image[n : n + 1], luts[n])[0], atol=1e-6)


def test_colors_outside_the_cube_are_clamped(generator):
    lut = random_lut(5, generator)
    image = torch.tensor([-0.5, 1.5, 0.3]).reshape(1, 3, 1, 1)
    assert torch.allclose(apply_lut(image, lut), apply_lut(image.clamp(0, 1), lut))


@pytest.mark.parametrize("interp", interpolate.INTERPOLATIONS)
def test_large_images_are_processed_in_chunks_with_the_same_result(interp, generator, monkeypatch):
    lut = random_lut(9, generator)
    image = torch.rand(1, 3, 30, 30, generator=generator)
    whole = apply_lut(image, lut, interp)
    monkeypatch.setattr(interpolate, "_INFERENCE_CHUNK", 97)
    with torch.no_grad():
        assert torch.equal(apply_lut(image, lut, interp), whole)


@pytest.mark.parametrize("interp", interpolate.INTERPOLATIONS)
def test_gradients_for_lut_and_image(interp, generator):
    lut = random_lut(4, generator, torch.float64).requires_grad_()
    # Keep colors away from cell borders and ties, where the mapping has kinks.
    image = 0.05 + 0.9 * torch.rand(1, 3, 3, 4, generator=generator, dtype=torch.float64)
    image.requires_grad_()
    assert torch.autograd.gradcheck(lambda i, t: apply_lut(i, t, interp), (image, lut))


def test_rejects_bad_shapes_and_names():
    lut = identity_lut(5)
    with pytest.raises(ValueError, match="interpolation"):
        apply_lut(torch.rand(1, 3, 2, 2), lut, "cubic")
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        apply_lut(torch.rand(3, 2, 2), lut)
    with pytest.raises(ValueError, match="lut must be"):
        apply_lut(torch.rand(2, 3, 2, 2), torch.stack([lut] * 3))


# LUTCLI_KERNELS: which kernels apply_lut runs -------------------------------------------------


@pytest.fixture
def triton_kernel_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The interpolations apply_lut handed to the Triton kernels, in order."""
    calls: list[str] = []
    monkeypatch.setattr(
        cuda, "interpolate_planar", lambda colors, table, interp: calls.append(interp)
    )
    return calls


def test_the_triton_choice_where_the_kernels_cannot_run_is_an_error(monkeypatch):
    monkeypatch.setenv("LUTCLI_KERNELS", "triton")
    monkeypatch.setattr(cuda, "runs_on", lambda device: False)
    with pytest.raises(LutcliError, match="LUTCLI_KERNELS=triton.*TRITON_INTERPRET=1"):
        apply_lut(torch.rand(1, 3, 4, 4), identity_lut(5))


def test_the_triton_choice_leaves_other_types_to_the_torch_path(monkeypatch, triton_kernel_calls):
    """The kernels take float32; float64 (the precise tests' type) takes the torch path."""
    monkeypatch.setenv("LUTCLI_KERNELS", "triton")
    image = torch.rand(1, 3, 4, 4, dtype=torch.float64)
    torch.testing.assert_close(apply_lut(image, identity_lut(5).double()), image)
    assert triton_kernel_calls == []


def test_an_unknown_kernel_choice_is_an_error_naming_the_choices(monkeypatch):
    monkeypatch.setenv("LUTCLI_KERNELS", "gpu")
    with pytest.raises(LutcliError, match="LUTCLI_KERNELS='gpu'.*auto, reference, triton"):
        apply_lut(torch.rand(1, 3, 4, 4), identity_lut(5))
