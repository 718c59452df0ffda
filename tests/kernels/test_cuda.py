"""The GPU kernels (lutcli.kernels.cuda, Triton) against the torch reference: values and
gradients, trilinear and tetrahedral, one LUT and one per picture.

They run on a CUDA GPU where there is one, and on every other machine under Triton's interpreter
(conftest.py), so CI checks them without a GPU. The interpreter is slow: the sizes are small.
"""

from __future__ import annotations

import threading

import pytest
import torch

from lutcli.kernels import INTERPOLATIONS, cuda
from lutcli.lut.interpolate import apply_lut, reference_apply_lut
from lutcli.lut.lattice import identity_lut

BLOCK_PLUS_ONE = cuda.BLOCK + 1


def luts(count: int, size: int, seed: int) -> torch.Tensor:
    """``count`` random (3, D, D, D) LUTs stacked: the identity plus noise."""
    generator = torch.Generator().manual_seed(seed)
    start = identity_lut(size).expand(count, -1, -1, -1, -1)
    return start + 0.1 * torch.randn(count, 3, size, size, size, generator=generator)


def colors(batch: int, pixels: int, seed: int) -> torch.Tensor:
    """(N, 3, P) colors in [-0.1, 1.1], some outside the cube (clamped); where there is room,
    the first 8 pixels are the cube's corners (0 and 1 exactly)."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.rand(batch, 3, pixels, generator=generator) * 1.2 - 0.1
    if pixels >= 8:
        corners = [(r, g, b) for b in (0, 1) for g in (0, 1) for r in (0, 1)]
        out[:, :, :8] = torch.tensor(corners, dtype=out.dtype).T
    return out


def run(function, image, table, interp, upstream, device):
    """Output, image gradient and LUT gradient of sum(upstream * function(image, table)),
    computed on ``device`` and returned on the CPU."""
    x = image.clone().to(device).requires_grad_()
    t = table.clone().to(device).requires_grad_()
    out = function(x, t, interp)
    (out * upstream.to(device)).sum().backward()
    return out.detach().cpu(), x.grad.cpu(), t.grad.cpu()


def reference(x: torch.Tensor, t: torch.Tensor, interp: str) -> torch.Tensor:
    """reference_apply_lut on the kernels' (N, 3, P) colors and (1 or N, 3, D, D, D) tables."""
    lut = t[0] if t.shape[0] == 1 else t
    return reference_apply_lut(x.unsqueeze(-1), lut, interp).squeeze(-1)


@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize(
    ("batch", "pixels", "lut_count", "size"),
    [(3, 300, 1, 9), (3, 300, 3, 9), (1, BLOCK_PLUS_ONE, 1, 2), (2, 1, 2, 2)],
    ids=["shared-lut", "lut-per-picture", "one-picture-block-plus-one-size-2", "one-pixel"],
)
def test_values_and_gradients_match_the_reference(
    gpu_device, interp, batch, pixels, lut_count, size
):
    image, table = colors(batch, pixels, seed=1), luts(lut_count, size, seed=2)
    upstream = torch.randn(batch, 3, pixels, generator=torch.Generator().manual_seed(3))
    kernel = run(cuda.interpolate_planar, image, table, interp, upstream, gpu_device)
    expected = run(reference, image, table, interp, upstream, "cpu")
    for ours, theirs in zip(kernel, expected, strict=True):
        torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_colors_outside_the_cube_are_clamped_and_get_no_gradient(gpu_device, interp):
    image = torch.tensor([[[-0.5, 1.5, 0.3], [0.2, -1.0, 2.0], [1.7, 0.4, -0.2]]])
    table = luts(1, 5, seed=6).to(gpu_device)
    x = image.to(gpu_device).requires_grad_()
    out = cuda.interpolate_planar(x, table, interp)
    out.sum().backward()
    clamped = cuda.interpolate_planar(image.clamp(0, 1).to(gpu_device), table, interp)
    torch.testing.assert_close(out, clamped, atol=1e-6, rtol=0)
    inside = (image >= 0) & (image <= 1)
    assert torch.all(x.grad.cpu()[~inside] == 0) and torch.all(x.grad.cpu()[inside] != 0)


@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_only_the_wanted_gradient_is_computed(gpu_device, interp):
    image, table = colors(2, 300, seed=4).to(gpu_device), luts(1, 5, seed=5).to(gpu_device)
    x = image.clone().requires_grad_()
    cuda.interpolate_planar(x, table, interp).sum().backward()
    t = table.clone().requires_grad_()
    cuda.interpolate_planar(image, t, interp).sum().backward()
    assert x.grad is not None and t.grad is not None and table.grad is None
    # the LUT gradient sums each pixel's corner weights: one per pixel and channel
    torch.testing.assert_close(t.grad.sum().cpu(), torch.tensor(2 * 300 * 3.0))


def test_photos_processed_on_several_threads_get_their_own_results(gpu_device):
    """``lutcli apply`` runs photos on threads; Triton's interpreter is not thread-safe, so the
    kernels' launches must not interleave there."""
    table = luts(1, 5, seed=7).to(gpu_device)
    images = [colors(1, 300, seed=10 + n).to(gpu_device) for n in range(4)]
    results: dict[int, torch.Tensor] = {}

    def work(n: int) -> None:
        results[n] = cuda.interpolate_planar(images[n], table, INTERPOLATIONS[n % 2])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n, image in enumerate(images):
        expected = reference(image, table, INTERPOLATIONS[n % 2])
        torch.testing.assert_close(results[n], expected, atol=2e-5, rtol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_apply_lut_uses_the_kernel_for_gpu_tensors(monkeypatch):
    calls = []
    real = cuda.interpolate_planar
    monkeypatch.setattr(cuda, "interpolate_planar", lambda *a: calls.append(1) or real(*a))
    image = torch.rand(1, 3, 64, 48, device="cuda")
    lut = identity_lut(17).cuda()
    torch.testing.assert_close(apply_lut(image, lut), image, atol=1e-6, rtol=0)
    assert calls == [1]
