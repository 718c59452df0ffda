"""The GPU code path end to end: a training step and an ``apply`` of an image-adaptive model
through the Triton kernels give what the CPU kernels give.

On a GPU the model runs there; on a machine without one it runs on the CPU with
LUTCLI_KERNELS=triton, which routes apply_lut to the Triton kernels under Triton's interpreter
(conftest.py), so CI exercises the GPU path without a GPU.
"""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lutcli.kernels import cuda
from lutcli.looks import ModelLook
from lutcli.models.base import LutModel, fix_picture_size
from lutcli.models.registry import create_model
from lutcli.processing import Job, process_image
from zoo_support import perturb

CPU = torch.device("cpu")


@pytest.fixture
def triton_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pixel counts apply_lut handed to the Triton kernels, in order."""
    calls: list[int] = []
    original = cuda.interpolate_planar

    def spy(colors, table, interp):
        calls.append(colors.shape[-1])
        return original(colors, table, interp)

    monkeypatch.setattr(cuda, "interpolate_planar", spy)
    return calls


def adaptive_model() -> LutModel:
    """A first-linear model with 5³ LUTs, moved away from its start as training would."""
    torch.manual_seed(0)
    return perturb(create_model("first-linear", lut_size=5))


def photo(height: int, width: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8: smooth gradients plus noise, so every part of the cube is visited."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1)
    return np.clip(base * 255 + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def training_step(model: LutModel, device: torch.device, interp: str):
    """The loss and every parameter's gradient of one training step on ``device`` (the step of
    Trainer._train_epoch: the model's training loss on crops, seeing the whole pictures)."""
    model = model.to(device)
    model.set_interp(interp)
    pictures = torch.stack([torch.from_numpy(photo(24, 20, seed)) for seed in (1, 2)])
    pictures = pictures.permute(0, 3, 1, 2).float() / 255
    inputs = pictures[:, :, 4:16, 3:15]
    targets = (inputs**0.8).flip(1)  # a look: brighter, with red and blue swapped
    contexts = fix_picture_size(pictures)
    loss = model.training_loss(inputs.to(device), targets.to(device), contexts.to(device))
    model.zero_grad(set_to_none=True)
    loss.backward()
    gradients = {name: p.grad.cpu() for name, p in model.named_parameters() if p.grad is not None}
    return loss.item(), gradients


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
def test_a_training_step_on_the_gpu_path_matches_the_cpu_kernels(
    gpu_device, interp, monkeypatch, triton_calls
):
    model = adaptive_model()
    cpu_loss, cpu_gradients = training_step(copy.deepcopy(model), CPU, interp)
    assert triton_calls == []
    monkeypatch.setenv("LUTCLI_KERNELS", "triton")
    gpu_loss, gpu_gradients = training_step(model, gpu_device, interp)
    assert triton_calls == [12 * 12]  # the crops, with one LUT per picture
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-5)
    assert gpu_gradients.keys() == cpu_gradients.keys() and gpu_gradients
    for name, gradient in gpu_gradients.items():
        expected = cpu_gradients[name]
        scale = max(1e-6, expected.abs().max().item())
        assert (gradient - expected).abs().max().item() <= 1e-4 * scale, name


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
def test_apply_of_an_adaptive_model_on_the_gpu_path_matches_the_cpu_kernels(
    gpu_device, interp, monkeypatch, triton_calls, tmp_path: Path
):
    source = tmp_path / "photo.png"
    cv2.imwrite(str(source), photo(30, 40, seed=3))
    model = adaptive_model()
    process_image(ModelLook(copy.deepcopy(model), interp, CPU), Job(source, tmp_path / "cpu.png"))
    assert triton_calls == []
    monkeypatch.setenv("LUTCLI_KERNELS", "triton")
    look = ModelLook(model, interp, gpu_device)
    process_image(look, Job(source, tmp_path / "gpu.png"))
    assert triton_calls == [5**3, 30 * 40]  # the photo's own LUT, then the photo through it
    cpu_pixels = cv2.imread(str(tmp_path / "cpu.png")).astype(int)
    gpu_pixels = cv2.imread(str(tmp_path / "gpu.png")).astype(int)
    assert np.abs(gpu_pixels - cpu_pixels).max() <= 1
