"""The multi-scale model: any zoo model, trained on a pyramid (full size and down-sampled by
each of ``scales``), applied as the model it wraps with its LUT chosen at the coarsest scale."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lutcli.errors import LutcliError
from lutcli.lut.lattice import identity_lut
from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import load_model, save_model
from lutcli.models.multiscale import MAX_SCALE, MultiScaleModel
from lutcli.models.networks import fix_picture_size
from lutcli.models.optimization import FirstLinearModel
from lutcli.models.registry import MODELS, create_model
from zoo_support import perturb


def multiscale(**config) -> MultiScaleModel:
    settings = {"lut_size": 5, "model": "first-linear", "scales": [2, 4]}
    settings["model_config"] = {"basis_count": 2}
    settings.update(config)
    torch.manual_seed(0)
    return create_model("multiscale", **settings)


def warm_basic(size: int = 5) -> MultiScaleModel:
    """A multi-scale basic model whose LUT is a known non-identity look."""
    model = create_model("multiscale", lut_size=size, model="basic", scales=[2, 4])
    red, green, blue = identity_lut(size)
    with torch.no_grad():
        model.inner.lut.copy_(torch.stack([red**0.7, green, 0.2 + 0.6 * blue]))
    return model


def test_it_is_registered_as_multiscale():
    assert MODELS["multiscale"] is MultiScaleModel


def test_it_wraps_the_named_model_with_its_config():
    model = multiscale()
    assert isinstance(model, MultiScaleModel) and model.name == "multiscale"
    assert isinstance(model.inner, FirstLinearModel)
    assert model.inner.lut_size == model.lut_size == 5
    assert model.inner.config() == {"lut_size": 5, "basis_count": 2}
    assert model.scales == (2, 4)
    assert model.config() == {
        "lut_size": 5,
        "model": "first-linear",
        "scales": [2, 4],
        "model_config": {"basis_count": 2},
    }


def test_scales_are_sorted_once_each():
    model = multiscale(scales=[8, 2, 4, 2])
    assert model.scales == (2, 4, 8) and model.config()["scales"] == [2, 4, 8]


def test_the_defaults_wrap_first_linear_at_2_4_8():
    model = create_model("multiscale", lut_size=5)
    assert model.config() == {
        "lut_size": 5,
        "model": "first-linear",
        "scales": [2, 4, 8],
        "model_config": {"basis_count": 3},
    }


def test_config_round_trips_through_a_model_file(tmp_path):
    model = perturb(multiscale()).eval()
    path = tmp_path / "multi.pt"
    save_model(path, model, {"note": "multi"})
    loaded, info = load_model(path)
    assert isinstance(loaded, MultiScaleModel) and info == {"note": "multi"}
    assert loaded.config() == model.config()
    assert loaded.state_dict().keys() == model.state_dict().keys()
    image = torch.rand(2, 3, 12, 16, generator=torch.Generator().manual_seed(1))
    context = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(loaded(image, context=context), model(image, context=context))


@pytest.mark.parametrize(
    ("inner", "adaptive", "learning_rate"),
    [("basic", False, BasicLookupModel.learning_rate), ("first-linear", True, 3e-3)],
)
def test_adaptive_and_learning_rate_follow_the_wrapped_model(inner, adaptive, learning_rate):
    model = create_model("multiscale", lut_size=5, model=inner, scales=[2])
    assert model.adaptive is adaptive and model.inner.adaptive is adaptive
    assert model.learning_rate == learning_rate == MODELS[inner].learning_rate
    assert BasicLookupModel.learning_rate == 1e-4
    # Instances carry their own; the class keeps those of its default wrapped model.
    assert MultiScaleModel.adaptive is True and MultiScaleModel.learning_rate == 3e-3


def test_the_wrapped_model_chooses_its_lut_from_the_coarsest_scale():
    model = perturb(multiscale()).eval()  # scales 2 and 4
    image = torch.rand(1, 3, 10, 14, generator=torch.Generator().manual_seed(3))
    context = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        coarsest = model.coarsest(context)
        assert coarsest.shape == (1, 3, 64, 64)  # 256 (the fixed size) over 4 (the largest)
        seeing_context = model(image, context=context)
        assert torch.equal(seeing_context, model.inner(image, context=coarsest))
        assert torch.equal(model(image), model.inner(image, context=model.coarsest(image)))
        assert torch.equal(
            model(image, context, adaptive=False), model.inner(image, context, adaptive=False)
        )
        # The wrapped model is adaptive: another picture gives other colors.
        assert not torch.equal(seeing_context, model(image, context=image))


def test_a_picture_and_its_quarter_size_copy_look_alike_at_the_coarsest_scale():
    model = perturb(multiscale())
    # Patches of color, and the copy a quarter of the size that a thumbnail would be.
    patches = torch.rand(1, 3, 24, 12, generator=torch.Generator().manual_seed(4))
    picture = F.interpolate(patches, size=(480, 240), mode="nearest")
    quarter = F.avg_pool2d(picture, 4)
    coarsest = (model.coarsest(picture) - model.coarsest(quarter)).abs().mean()
    size_fixed = (fix_picture_size(picture) - fix_picture_size(quarter)).abs().mean()
    # What the model looks at differs a third as much as what the wrapped model alone looks at
    # (measured 0.0060 against 0.0175).
    assert coarsest < 0.5 * size_fixed


def test_regularized_luts_stages_and_warm_start_are_the_wrapped_models():
    model = perturb(multiscale())
    for name in ("smooth_luts", "monotone_luts"):
        ours, theirs = getattr(model, name)(), getattr(model.inner, name)()
        assert len(ours) == len(theirs) > 0
        assert all(a is b or torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    stages, inner_stages = model.stages(), model.inner.stages()
    assert [name for name, _ in stages] == [name for name, _ in inner_stages]
    for (_, ours), (_, theirs) in zip(stages, inner_stages, strict=True):
        assert [id(p) for p in ours] == [id(p) for p in theirs]
    trained = {id(p) for p in model.parameters()}
    assert {id(p) for _, group in stages for p in group} <= trained


def test_warm_start_solves_the_wrapped_basic_lut():
    model = create_model("multiscale", lut_size=5, model="basic", scales=[2])
    colors = torch.rand(3, 4000, generator=torch.Generator().manual_seed(5))
    targets = colors.flip(0)  # red and blue swapped: a look the warm start solves exactly
    assert model.warm_start(colors, targets, smoothness_weight=1e-6)
    swapped = torch.tensor([[[[0.9]], [[0.5]], [[0.1]]]])
    with torch.no_grad():
        out = model(swapped)
    torch.testing.assert_close(out.flatten(), torch.tensor([0.1, 0.5, 0.9]), atol=0.02, rtol=0)


# training_loss ----------------------------------------------------------------------------------


def mse(model: torch.nn.Module, inputs, targets, contexts) -> torch.Tensor:
    return torch.mean((model(inputs, context=contexts) - targets) ** 2)


def batch(height: int = 16, width: int = 16, seed: int = 6):
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.rand(2, 3, height, width, generator=generator)
    targets = torch.rand(2, 3, height, width, generator=generator)
    return inputs, targets, inputs.clone()


def test_training_steps_take_full_size_and_every_scale_in_turn():
    model = warm_basic()
    inputs, targets, contexts = batch()
    expected = [mse(model.inner, inputs, targets, contexts)]
    for scale in (2, 4):
        small = [F.avg_pool2d(t, scale) for t in (inputs, targets)]
        expected.append(mse(model.inner, *small, contexts))
    losses = [model.training_loss(inputs, targets, contexts) for _ in range(6)]
    torch.testing.assert_close(torch.stack(losses), torch.stack(expected * 2))
    # Over a cycle, the loss averaged over the scales: the pyramid weighs in.
    assert not torch.allclose(torch.stack(losses[:3]).mean(), expected[0])
    # A wrapped model on its own trains on the full size alone.
    torch.testing.assert_close(model.inner.training_loss(inputs, targets, contexts), expected[0])


def test_training_loss_has_gradients_for_the_wrapped_lut():
    model = warm_basic()
    model.training_loss(*batch()).backward()
    assert model.inner.lut.grad is not None and model.inner.lut.grad.abs().sum() > 0


def test_scales_larger_than_the_crop_are_skipped():
    model = create_model("multiscale", lut_size=5, model="basic", scales=[2, 12, 32])
    with torch.no_grad():
        model.inner.lut.copy_(warm_basic().inner.lut)
    inputs, targets, contexts = batch(12, 20)  # the short side is 12: 32 does not fit
    expected = [mse(model.inner, inputs, targets, contexts)]
    for scale in (2, 12):  # 12 still leaves one row of pixels
        small = [F.avg_pool2d(t, scale) for t in (inputs, targets)]
        expected.append(mse(model.inner, *small, contexts))
    losses = [model.training_loss(inputs, targets, contexts) for _ in range(3)]
    torch.testing.assert_close(torch.stack(losses), torch.stack(expected))


def test_a_crop_smaller_than_every_scale_is_the_full_size_loss():
    model = create_model("multiscale", lut_size=5, model="basic", scales=[16, 32])
    with torch.no_grad():
        model.inner.lut.copy_(warm_basic().inner.lut)
    inputs, targets, contexts = batch(8, 8)
    torch.testing.assert_close(
        model.training_loss(inputs, targets, contexts), mse(model.inner, inputs, targets, contexts)
    )


def test_an_identity_look_on_matching_pairs_has_no_loss():
    model = create_model("multiscale", lut_size=5, model="basic", scales=[2, 4])
    inputs, _, contexts = batch()
    assert model.training_loss(inputs, inputs, contexts).item() < 1e-10


# Refused configurations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scales",
    [[1], [0], [MAX_SCALE + 1], ["2"], [], [True], [2.0], [2, 1], 1, 0, "2", True],
    ids=repr,
)
def test_bad_scales_are_a_bad_configuration(scales):
    with pytest.raises(LutcliError, match="bad configuration for model 'multiscale'"):
        create_model("multiscale", lut_size=5, scales=scales)


def test_bad_scales_are_a_value_error_when_built_directly():
    with pytest.raises(ValueError, match=f"integers in 2..{MAX_SCALE}"):
        MultiScaleModel(lut_size=5, scales=[65])


def test_the_largest_scale_is_allowed():
    assert create_model("multiscale", lut_size=5, scales=[2, MAX_SCALE]).scales == (2, 64)


def test_a_multiscale_model_does_not_wrap_itself():
    with pytest.raises(LutcliError, match="bad configuration for model 'multiscale'.*not itself"):
        create_model("multiscale", lut_size=5, model="multiscale")


def test_the_wrapped_model_must_exist_and_take_its_config():
    with pytest.raises(LutcliError, match="unknown model 'nope'"):
        create_model("multiscale", lut_size=5, model="nope")
    with pytest.raises(LutcliError, match="first-linear"):
        create_model("multiscale", lut_size=5, model_config={"basis_count": 0})
    with pytest.raises(LutcliError, match="first-linear"):
        create_model("multiscale", lut_size=5, model_config={"layers": 3})
