"""The GPU kernel (lutcli.kernels.cuda) against the torch reference: values and gradients.

It runs on a CUDA GPU; on a machine without one, Triton's interpreter runs the same kernels on
the CPU when TRITON_INTERPRET=1 is set and triton is installed. Elsewhere it is skipped.
"""

from __future__ import annotations

import pytest
import torch

from lutcli.kernels import cuda
from lutcli.lut.interpolate import apply_lut, reference_apply_lut
from lutcli.lut.lattice import identity_lut

pytestmark = pytest.mark.skipif(not cuda.available(), reason="no CUDA GPU (nor Triton interpreter)")

INTERPOLATIONS = ("trilinear", "tetrahedral")


@pytest.fixture
def device() -> torch.device:
    """The GPU, or the CPU under Triton's interpreter."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def luts(count: int, size: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    start = identity_lut(size).expand(count, -1, -1, -1, -1)
    return start + 0.1 * torch.randn(count, 3, size, size, size, generator=generator)


def colors(batch: int, pixels: int, seed: int) -> torch.Tensor:
    """Colors in [-0.1, 1.1]: some outside the cube, which is clamped."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, pixels, generator=generator) * 1.2 - 0.1


@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("lut_count", [1, 3], ids=["shared", "per-picture"])
def test_values_and_gradients_match_the_reference(device, interp, lut_count):
    image, table = colors(3, 700, seed=1), luts(lut_count, 9, seed=2)
    upstream = torch.randn(3, 3, 700, generator=torch.Generator().manual_seed(3))
    results = []
    for run in ("kernel", "reference"):
        x = image.clone().to(device).requires_grad_()
        t = table.clone().to(device).requires_grad_()
        if run == "kernel":
            out = cuda.interpolate_planar(x, t, interp)
        else:
            lut = t[0] if lut_count == 1 else t
            out = reference_apply_lut(x.unsqueeze(-1), lut, interp).squeeze(-1)
        (out * upstream.to(device)).sum().backward()
        results.append((out.detach().cpu(), x.grad.cpu(), t.grad.cpu()))
    for kernel, reference in zip(*results, strict=True):
        torch.testing.assert_close(kernel, reference, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_only_the_wanted_gradient_is_computed(device, interp):
    image, table = colors(2, 300, seed=4).to(device), luts(1, 5, seed=5).to(device)
    x = image.clone().requires_grad_()
    cuda.interpolate_planar(x, table, interp).sum().backward()
    t = table.clone().requires_grad_()
    cuda.interpolate_planar(image, t, interp).sum().backward()
    assert x.grad is not None and t.grad is not None
    # the LUT gradient sums each pixel's corner weights: one per pixel and channel
    torch.testing.assert_close(t.grad.sum(), torch.tensor(2 * 300 * 3.0, device=device))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="apply_lut dispatches on CUDA tensors")
def test_apply_lut_uses_the_kernel_for_gpu_tensors(monkeypatch):
    calls = []
    real = cuda.interpolate_planar
    monkeypatch.setattr(cuda, "interpolate_planar", lambda *a: calls.append(1) or real(*a))
    image = torch.rand(1, 3, 64, 48, device="cuda")
    lut = identity_lut(17).cuda()
    torch.testing.assert_close(apply_lut(image, lut), image, atol=1e-6, rtol=0)
    assert calls == [1]
