"""Looks: a LUT file or a model behind one interface, on tensors and on decoded pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import lutcli.io.pixels
import lutcli.looks
import lutcli.lut.luts
from lutcli.io.pixels import to_tensor
from lutcli.looks import FileLook, ModelLook, picture_context
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D, LutFile
from lutcli.models.base import FIXED_SIZE, fix_picture_size
from lutcli.models.basic import BasicLookupModel
from lutcli.models.registry import create_model
from photo_support import smooth_photo
from zoo_support import perturb


def pixels(seed: int = 0, dtype=np.uint8, shape=(6, 8, 3)) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, endpoint=True).astype(dtype)


def test_model_and_lut_file_looks_give_their_colors_to_tensors():
    model = BasicLookupModel(5)
    with torch.no_grad():
        model.lut.copy_(1 - identity_lut(5))
    picture = torch.rand(1, 3, 4, 5)
    for look in (
        ModelLook(model, "tetrahedral"),
        FileLook(LutFile(Lut3D((1 - identity_lut(5)).numpy()))),
    ):
        torch.testing.assert_close(look.apply(picture), 1 - picture, atol=1e-6, rtol=0)


# What an adaptive look sees of a photo, without a float copy of it ------------------------------


@pytest.mark.parametrize(
    ("height", "width", "dtype"),
    [(48, 64, np.uint8), (700, 3000, np.uint8), (2100, 1500, np.uint16)],
)
def test_the_picture_context_is_the_photo_size_fixed_in_float(height, width, dtype):
    photo = smooth_photo(height, width, dtype)
    context = picture_context(photo)
    assert context.shape == (1, 3, FIXED_SIZE, FIXED_SIZE) and context.dtype == torch.float32
    exact = fix_picture_size(to_tensor(photo))
    assert (context - exact).abs().max() < 0.5 / 255  # under half an 8-bit level
    bgr = np.ascontiguousarray(photo[..., ::-1])
    torch.testing.assert_close(picture_context(bgr, "BGR"), context)


def test_the_picture_context_of_a_big_photo_makes_no_float_copy_of_it(monkeypatch):
    photo = smooth_photo(3000, 2200)
    seen = []
    real = lutcli.looks.to_tensor
    monkeypatch.setattr(lutcli.looks, "to_tensor", lambda p: seen.append(p.size) or real(p))
    picture_context(photo)
    assert seen and max(seen) <= (4 * FIXED_SIZE) ** 2 * 4 * 3  # below 8 x the fixed size a side


def test_without_the_compiled_kernel_the_lut_runs_a_strip_of_float_at_a_time(monkeypatch):
    torch.manual_seed(0)
    model = perturb(create_model("first-linear", lut_size=9), lut_noise=0.05).eval()
    look = ModelLook(model, "trilinear")
    photo = smooth_photo(40, 60)
    context = picture_context(photo)
    compiled = look.apply(photo, context)
    monkeypatch.setenv("LUTCLI_KERNELS", "reference")
    monkeypatch.setattr(lutcli.io.pixels, "STRIP_PIXELS", 7 * 60)  # 6 strips, the last short
    seen = []
    real = lutcli.lut.luts.to_tensor
    monkeypatch.setattr(lutcli.lut.luts, "to_tensor", lambda p: seen.append(p.shape) or real(p))
    strips = look.apply(photo, context)
    assert np.abs(strips.astype(int) - compiled).max() <= 1
    assert seen == [(7, 60, 3)] * 5 + [(5, 60, 3)]


def test_a_lut_file_look_runs_the_kernel_on_pixels_as_the_float_path_does(tmp_path):
    table = identity_lut(9) ** 1.5  # a real change of every channel
    look = FileLook(LutFile(Lut3D(table.numpy())), "tetrahedral")
    picture = pixels(4, np.uint8, (20, 30, 3))
    fast = look.apply(picture)
    slow = look.apply(to_tensor(picture))[0].permute(1, 2, 0).clamp(0, 1)
    slow = (slow * 255).round().byte().numpy()
    assert fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - slow).max() <= 1


@pytest.mark.parametrize("name", ["first-product", "combined"])
def test_a_model_that_composes_luts_gets_its_own_colors_from_apply(name):
    torch.manual_seed(0)
    model = perturb(create_model(name, lut_size=9), lut_noise=0.05).eval()
    photo = cv2.resize(pixels(5, np.uint8, (16, 16, 3)), (64, 48), interpolation=cv2.INTER_CUBIC)
    look = ModelLook(model, "trilinear")
    with torch.no_grad():
        own = model(to_tensor(photo))  # float, as in training
    expected = (own[0].permute(1, 2, 0).clamp(0, 1) * 255).round().numpy()
    assert np.abs(look.apply(photo).astype(int) - expected).max() <= 1


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
@pytest.mark.parametrize("kernels", ["compiled", "reference"])
def test_a_look_gives_bgr_pixels_the_colors_it_gives_rgb_ones(monkeypatch, interp, kernels):
    if kernels == "reference":
        monkeypatch.setenv("LUTCLI_KERNELS", "reference")
    torch.manual_seed(0)
    model = perturb(create_model("first-linear", lut_size=9), lut_noise=0.05).eval()
    look = ModelLook(model, interp)
    rgb = pixels(6, np.uint8, (24, 32, 3))
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    expected = look.apply(rgb)
    np.testing.assert_array_equal(look.apply(bgr, channel_order="BGR"), expected[..., ::-1])
    look.apply(bgr, None, out=bgr, channel_order="BGR")  # in place
    np.testing.assert_array_equal(bgr, expected[..., ::-1])
