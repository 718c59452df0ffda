"""The model zoo, every registered model alike: it starts as the identity, each training stage
trains exactly its parameters, it survives its file, its .cube for a photo gives the colors the
model gives that photo, and the adaptive ones look at the picture, not at its size.

Sizes are tiny (5³ LUTs, pictures of a few dozen pixels) except where the networks look: they
always see the picture at 256x256, whatever size it is given at.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skimage_data

from lutcli.errors import LutcliError
from lutcli.io.pixels import to_tensor
from lutcli.lut.interpolate import INTERPOLATIONS, apply_lut
from lutcli.models.base import LutModel
from lutcli.models.basic import BasicLookupModel
from lutcli.models.combined import CombinedModel
from lutcli.models.export import sample_lut
from lutcli.models.files import load_model, save_model
from lutcli.models.optimization import OptimizationModel
from lutcli.models.registry import MODELS, create_model
from lutcli.training.data import PictureSample, SampleList
from lutcli.training.trainer import Trainer, TrainingOptions, regularization
from zoo_support import perturb

LUT_SIZE = 5
NAMES = list(MODELS)
ONE_LEVEL = 1 / 255
# A lattice fine enough that the .cube of a composed model (product, combined) is within one
# 8-bit level of the model: a composition of LUTs is not itself a LUT, only close to one.
FINE = 65


def build(name: str, **options: object) -> LutModel:
    """The model as ``lutcli train`` starts it (random network weights, seeded)."""
    torch.manual_seed(0)
    return create_model(name, lut_size=LUT_SIZE, **options)


def is_one_lut(model: LutModel) -> bool:
    """Whether the model applies a single LUT to the picture (the LUTs add), so that its .cube
    is exact; product and combined models compose several mappings instead."""
    if isinstance(model, BasicLookupModel):
        return True
    return isinstance(model, OptimizationModel) and model.combination == "linear"


def photo_tensor(pixels: np.ndarray, size: int) -> torch.Tensor:
    """A real photo, square-cropped and shrunk to size x size, as a (1, 3, S, S) tensor."""
    side = min(pixels.shape[:2])
    square = np.ascontiguousarray(pixels[:side, :side, :3])
    if side != size:
        square = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
    return to_tensor(square)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return photo_tensor(skimage_data.astronaut(), 64)


@pytest.fixture(scope="module")
def other_photo() -> torch.Tensor:
    return photo_tensor(skimage_data.chelsea()[:, 60:], 64)


def to_8bit(image: torch.Tensor) -> torch.Tensor:
    return (image.clamp(0, 1) * 255).round()


def levels_apart(first: torch.Tensor, second: torch.Tensor) -> float:
    """The largest difference of two pictures once both are written as 8-bit files."""
    return (to_8bit(first) - to_8bit(second)).abs().max().item()


# A new model changes nothing -------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("name", NAMES)
def test_a_new_model_leaves_colors_as_they_are(name, interp, generator):
    model = build(name)
    model.set_interp(interp)
    images = torch.rand(2, 3, 12, 16, generator=generator)
    # Dark, low-contrast pictures of another size: nothing like the images.
    contexts = 0.3 * torch.rand(2, 3, 40, 24, generator=generator) ** 2
    with torch.no_grad():
        adapted = model(images, context=contexts)
        fixed = model(images, context=contexts, adaptive=False)
    torch.testing.assert_close(adapted, images, rtol=0, atol=1e-5)
    torch.testing.assert_close(fixed, images, rtol=0, atol=1e-5)


# Training stages -------------------------------------------------------------------------------


def expected_stages(model: LutModel) -> list[str]:
    """Models that compose mappings train their derived part alone first."""
    composes = isinstance(model, CombinedModel) or (
        isinstance(model, OptimizationModel) and model.combination == "product"
    )
    return ["derived", "all"] if composes else ["all"]


def must_move(name: str) -> bool:
    """Parameters a training step must change, whatever the picture: the LUT-like tensors and
    the last layer of every network (earlier layers may legitimately get a zero gradient, e.g.
    a convolution bias that the instance normalisation after it cancels)."""
    return name.endswith(("lut", "basis", "output.weight", "output.bias", "scale", "scales"))


@pytest.mark.parametrize("name", NAMES)
def test_each_stage_trains_exactly_its_parameters(name, tmp_path, generator):
    model = build(name)
    # At the exact start some gradients are zero for a good reason (the basis LUTs are zero, so
    # the weight model's choice does not matter yet; the generators' output layers are zero,
    # so nothing before them does either). A little training later they are not: test there.
    perturb(model)
    pixels = torch.rand(3, 8, 8, generator=generator)
    sample = PictureSample("s", pixels, pixels, pixels)
    options = TrainingOptions()
    samples = SampleList([sample])
    trainer = Trainer(model, samples, samples, tmp_path / "m.pt", options, torch.device("cpu"))
    stages = model.stages()
    assert [stage for stage, _ in stages] == expected_stages(model)
    assert {id(p) for p in stages[-1][1]} == {id(p) for p in model.parameters()}

    images = torch.rand(2, 3, 8, 8, generator=generator)
    contexts = torch.rand(2, 3, 32, 32, generator=generator)
    targets = torch.rand(2, 3, 8, 8, generator=generator)
    for index, (stage, trained) in enumerate(stages):
        trainer._enter_stage(index)
        model.zero_grad(set_to_none=True)
        loss = torch.mean((model(images, context=contexts) - targets) ** 2)
        (loss + regularization(model, options)).backward()

        in_stage = {id(p) for p in trained}
        for parameter_name, parameter in model.named_parameters():
            if id(parameter) not in in_stage:
                assert parameter.grad is None, (stage, parameter_name)
                continue
            assert parameter.grad is not None, (stage, parameter_name)
            if must_move(parameter_name):
                assert parameter.grad.abs().max() > 0, (stage, parameter_name)
        if stage == "derived":
            # The basic LUTs (of every part) wait for the second stage.
            frozen = [n for n, p in model.named_parameters() if id(p) not in in_stage]
            assert any(n.endswith("basic.lut") for n in frozen)
            assert all("derived." in n for n, p in model.named_parameters() if id(p) in in_stage)


# The warm start ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_warm_start_makes_any_model_the_fitted_lut(name, photo, other_photo, generator):
    """Whatever training did before, every model's warm start gives every photo the colors of
    the exact one-LUT fit (what ``basic`` starts as): the model a product model has to beat."""
    inputs = torch.rand(3, 4000, generator=generator)
    targets = (0.1 + 0.8 * inputs**1.3).flip(0)  # a global look: curves and swapped channels
    fitted = build("basic")
    assert fitted.warm_start(inputs, targets, smoothness_weight=1e-4)
    model = perturb(build(name))
    assert model.warm_start(inputs, targets, smoothness_weight=1e-4)
    with torch.no_grad():
        for picture in (photo, other_photo):
            torch.testing.assert_close(model(picture), fitted(picture), rtol=0, atol=1e-5)


# Where each model trains from: the fit (True) or the identity (False).
STARTS = [
    ("basic", {}, True),
    ("first-linear", {}, True),
    ("second-linear", {}, True),
    ("first-product", {}, False),
    ("second-product", {}, False),
    ("combined", {"product": "second"}, False),
    ("combined", {"product": "first"}, True),
]


@pytest.mark.parametrize(("name", "options", "from_fit"), STARTS)
def test_only_models_whose_networks_see_through_a_fitted_lut_start_from_the_identity(
    name, options, from_fit
):
    """Product models, and combined models with a generated-LUT product part, train from the
    identity (their networks would see the photo through the fit); the rest from the fit."""
    assert build(name, **options).starts_from_fit is from_fit


def test_every_model_of_the_zoo_is_in_the_table_of_starts():
    assert {name for name, _, _ in STARTS} == set(NAMES)


# Model files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_saved_model_gives_the_same_pixels_after_loading(name, tmp_path, photo):
    model = perturb(build(name))
    path = tmp_path / "look.pt"
    save_model(path, model)
    loaded, _ = load_model(path)
    assert type(loaded) is type(model) and loaded.config() == model.config()
    with torch.no_grad():
        before = model(photo, context=photo)
        after = loaded(photo, context=photo)
    assert torch.equal(before, after)


# Exporting a .cube -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_cube_for_a_photo_gives_that_photo_the_models_colors(name, photo):
    model = perturb(build(name))
    with torch.no_grad():
        expected = model(photo, context=photo)
        assert levels_apart(expected, photo) > 0  # the perturbed model does change colors
        size = LUT_SIZE if is_one_lut(model) else FINE
        table = sample_lut(model, size, context=photo)
        exported = apply_lut(photo, table)
    assert table.shape == (3, size, size, size)
    assert levels_apart(exported, expected) <= 1
    if is_one_lut(model):  # one LUT: the .cube at the model's own size is that LUT
        torch.testing.assert_close(exported, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_the_cube_without_a_photo_is_the_picture_independent_part(name, photo):
    model = perturb(build(name))
    with torch.no_grad():
        expected = model(photo, adaptive=False)
        size = LUT_SIZE if is_one_lut(model) else FINE
        exported = apply_lut(photo, sample_lut(model, size))
    assert levels_apart(exported, expected) <= 1
    if is_one_lut(model):
        torch.testing.assert_close(exported, expected, rtol=0, atol=1e-5)


OPTIMIZATION_NAMES = [n for n in NAMES if issubclass(MODELS[n], OptimizationModel)]


@pytest.mark.parametrize("name", OPTIMIZATION_NAMES)
def test_with_untrained_derived_parts_the_cube_is_the_basic_lut(name, generator):
    model = build(name)
    # A look within the color cube: a product model clamps what its basic LUT gives to the
    # cube before its derived LUTs read it, so only there is the .cube exactly the basic LUT.
    noise = 0.05 * torch.randn(model.basic.lut.shape, generator=generator)
    with torch.no_grad():
        model.basic.lut.add_(noise).clamp_(0, 1)
    torch.testing.assert_close(
        sample_lut(model, LUT_SIZE), model.basic.lut.detach(), rtol=0, atol=1e-6
    )


# Adaptive models look at the picture -----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_adaptive_models_give_each_photo_its_own_lut(name, photo, other_photo):
    model = perturb(build(name))
    first = sample_lut(model, LUT_SIZE, context=photo)
    second = sample_lut(model, LUT_SIZE, context=other_photo)
    if model.adaptive:
        assert (first - second).abs().max() > 1e-4
    else:
        assert torch.equal(first, second)


@pytest.mark.parametrize("name", [n for n in NAMES if MODELS[n].adaptive])
def test_a_photo_and_its_preview_get_the_same_lut(name):
    """The networks see the picture at a fixed size: a full photo and a smaller copy of it give
    LUTs within one 8-bit level of each other, far closer than another photo's LUT."""
    model = perturb(build(name))
    astronaut = skimage_data.astronaut()
    full = sample_lut(model, LUT_SIZE, context=photo_tensor(astronaut, 512))
    preview = sample_lut(model, LUT_SIZE, context=photo_tensor(astronaut, 300))
    other = sample_lut(model, LUT_SIZE, context=photo_tensor(skimage_data.chelsea(), 300))
    assert (preview - full).abs().max() < ONE_LEVEL
    assert (preview - full).abs().max() < (other - full).abs().max() / 4


# Configurations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("first-linear", {"basis_count": 2}),
        ("first-product", {"basis_count": 5}),
        ("second-linear", {"derived_count": 1, "coarse_size": 3}),
        ("second-product", {"derived_count": 3, "coarse_size": 4}),
        ("combined", {"linear": "second", "product": "first", "basis_count": 2}),
        ("combined", {"linear": "first", "product": "first", "derived_count": 1}),
    ],
)
def test_a_config_rebuilds_the_same_model(name, options, tmp_path):
    model = build(name, **options)
    config = model.config()
    assert config == {**config, "lut_size": LUT_SIZE, **options}
    rebuilt = create_model(name, **config)
    assert rebuilt.config() == config
    assert [(n, p.shape) for n, p in rebuilt.named_parameters()] == [
        (n, p.shape) for n, p in model.named_parameters()
    ]
    save_model(tmp_path / "m.pt", model)
    assert load_model(tmp_path / "m.pt")[0].config() == config


@pytest.mark.parametrize(
    ("name", "options", "named"),
    [
        ("first-linear", {"basis_count": 0}, "basis_count"),
        ("first-product", {"basis_count": -1}, "basis_count"),
        ("second-linear", {"derived_count": 0}, "derived_count"),
        ("second-product", {"coarse_size": 1}, "coarse_size"),
        ("combined", {"linear": "third"}, "third"),
        ("combined", {"product": "linear"}, "'linear'"),
        ("first-linear", {"coarse_size": 3}, "coarse_size"),
        ("second-linear", {"basis_count": 3}, "basis_count"),
        ("basic", {"name": "x"}, "name"),
    ],
)
def test_bad_options_are_user_errors_naming_the_option(name, options, named):
    with pytest.raises(LutcliError, match=f"bad configuration for model '{name}'") as caught:
        create_model(name, lut_size=LUT_SIZE, **options)
    assert named in str(caught.value)


@pytest.mark.parametrize("name", ["second-linear", "second-product", "combined"])
def test_a_coarse_lattice_larger_than_the_lut_still_builds(name, photo):
    model = build(name, coarse_size=9)  # LUT_SIZE is 5: the generators emit 5³ directly
    assert model.config()["coarse_size"] == 9
    with torch.no_grad():
        assert model(photo, context=photo).shape == photo.shape
