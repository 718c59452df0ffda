"""Multi-scale models (SPEC's third optimization model) as models see them: any zoo model keeps
the scales of the pyramid it was trained on (``LutModel.scales``), which make it choose its LUT
from the picture at the coarsest scale, and its file keeps them. Files that stored a multi-scale
model as a model of its own ("multiscale") still load. The training schedule is tested in
tests/training/test_multiscale.py."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lutcli.errors import LutcliError, ModelFileError
from lutcli.lut.lattice import identity_lut
from lutcli.models.base import FIXED_SIZE, MAX_SCALE, fix_picture_size
from lutcli.models.files import FORMAT, load_model, save_model, save_payload
from lutcli.models.optimization import FirstLinearModel
from lutcli.models.registry import MODELS, create_model
from zoo_support import perturb

ADAPTIVE = sorted(name for name, model in MODELS.items() if model.adaptive)


def coarsest(picture: torch.Tensor, largest: int) -> torch.Tensor:
    """The reference: ``picture`` shrunk (antialiased bilinear) to a square of the fixed size
    over the largest factor, then brought to the fixed size as every network's input is."""
    side = FIXED_SIZE // largest
    small = F.interpolate(picture, size=(side, side), mode="bilinear", antialias=True)
    return F.interpolate(small, size=(FIXED_SIZE,) * 2, mode="bilinear", antialias=True)


def pictures(seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A small image and a larger picture to choose its LUT from."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, 10, 14, generator=generator)
    return image, torch.rand(1, 3, 300, 200, generator=generator)


# LutModel.scales -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_is_trained_at_full_size_only_until_told_otherwise(name):
    model = create_model(name, lut_size=5)
    assert model.scales == ()
    model.scales = [8, 2, 4, 2]
    assert model.scales == (2, 4, 8)  # sorted, once each
    assert "scales" not in model.config()  # not a constructor argument of any model


@pytest.mark.parametrize(
    "scales",
    [[1], [0], [MAX_SCALE + 1], ["2"], [True], [2.0], [2, 1], 1, "2", None],
    ids=repr,
)
def test_bad_scales_are_refused_naming_the_range(scales):
    model = create_model("basic", lut_size=5)
    with pytest.raises(
        ValueError, match=f"down-sampling factors must be integers in 2..{MAX_SCALE}"
    ):
        model.scales = scales
    assert model.scales == ()


def test_the_largest_scale_is_allowed():
    model = create_model("basic", lut_size=5)
    model.scales = (2, MAX_SCALE)
    assert model.scales == (2, 64)


# Choosing the LUT at the coarsest scale --------------------------------------------------------


def test_without_scales_a_model_sees_the_picture_size_fixed():
    model = create_model("first-linear", lut_size=5)
    _, context = pictures()
    expected = F.interpolate(context, size=(FIXED_SIZE,) * 2, mode="bilinear", antialias=True)
    torch.testing.assert_close(model.picture_context(context), expected, rtol=0, atol=0)


def test_with_scales_a_model_sees_the_picture_at_its_coarsest_scale():
    model = create_model("first-linear", lut_size=5)
    model.scales = (2, 4)
    _, context = pictures()
    seen = model.picture_context(context)
    assert seen.shape == (1, 3, FIXED_SIZE, FIXED_SIZE)  # what the networks take
    torch.testing.assert_close(seen, coarsest(context, 4), rtol=0, atol=0)


@pytest.mark.parametrize("name", ADAPTIVE)
def test_an_adaptive_model_with_scales_chooses_its_lut_from_the_coarsest_scale(name):
    model = perturb(create_model(name, lut_size=5)).eval()
    image, context = pictures()
    with torch.no_grad():
        plain = model(image, context=context)
        model.scales = (2, 8)
        seeing_coarsest = model(image, context=context)
        # Without a context, the image itself is the picture, seen at the coarsest scale.
        itself = model(image)
        model.scales = ()
        assert torch.equal(seeing_coarsest, model(image, context=coarsest(context, 8)))
        assert torch.equal(itself, model(image, context=coarsest(image, 8)))
    assert (seeing_coarsest - plain).abs().max() > 1e-5  # the coarsest scale made a difference


def test_the_picture_independent_part_does_not_depend_on_scales():
    model = perturb(create_model("first-linear", lut_size=5)).eval()
    image, context = pictures()
    with torch.no_grad():
        plain = model(image, context, adaptive=False)
        model.scales = (4,)
        assert torch.equal(model(image, context, adaptive=False), plain)


def test_a_picture_and_its_quarter_size_copy_look_alike_at_the_coarsest_scale():
    model = create_model("first-linear", lut_size=5)
    model.scales = (2, 4, 8)
    # Patches of color, and the copy a quarter of the size that a thumbnail would be.
    patches = torch.rand(1, 3, 24, 12, generator=torch.Generator().manual_seed(4))
    picture = F.interpolate(patches, size=(480, 240), mode="nearest")
    quarter = F.avg_pool2d(picture, 4)
    seen = (model.picture_context(picture) - model.picture_context(quarter)).abs().mean()
    size_fixed = (fix_picture_size(picture) - fix_picture_size(quarter)).abs().mean()
    # What the model looks at differs far less than what it looks at without scales
    # (measured 0.0022 against 0.0170).
    assert seen < 0.5 * size_fixed


# Model files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_scales_round_trip_through_a_model_file(name, tmp_path):
    model = perturb(create_model(name, lut_size=5)).eval()
    model.scales = (2, 4)
    save_model(tmp_path / "m.pt", model, {"note": "pyramid"})
    loaded, info = load_model(tmp_path / "m.pt")
    assert loaded.name == name and loaded.scales == (2, 4) and info == {"note": "pyramid"}
    assert loaded.config() == model.config()
    image, context = pictures()
    with torch.no_grad():
        assert torch.equal(loaded(image, context=context), model(image, context=context))


def old_multiscale_file(path, inner: FirstLinearModel, scales: list[int], steps: int = 7) -> None:
    """A multi-scale model as lutcli wrote it when it was a model of its own: name
    "multiscale", config {lut_size, model, scales, model_config}, the wrapped model's tensors
    under "inner." and the step counter of its training schedule."""
    state = {f"inner.{name}": tensor for name, tensor in inner.state_dict().items()}
    state["steps_taken"] = torch.tensor(steps)
    config = {"basis_count": inner.basis_count}
    save_payload(
        path,
        {
            "format": FORMAT,
            "format_version": 1,
            "model": "multiscale",
            "config": {
                "lut_size": inner.lut_size,
                "model": inner.name,
                "scales": scales,
                "model_config": config,
            },
            "state_dict": state,
            "info": {"epoch": 3},
        },
    )


def test_a_multiscale_file_of_the_old_kind_loads_as_its_inner_model_with_its_scales(tmp_path):
    inner = perturb(FirstLinearModel(lut_size=5, basis_count=2, features=1)).eval()
    old_multiscale_file(tmp_path / "old.pt", inner, [8, 2, 4])
    loaded, info = load_model(tmp_path / "old.pt")
    assert type(loaded) is FirstLinearModel and info == {"epoch": 3}
    assert loaded.config() == {"lut_size": 5, "basis_count": 2, "features": 1}
    assert loaded.scales == (2, 4, 8)
    assert loaded.state_dict().keys() == inner.state_dict().keys()
    assert all(torch.equal(t, inner.state_dict()[k]) for k, t in loaded.state_dict().items())
    # It applies as the old model did: the wrapped model choosing from the coarsest scale.
    image, context = pictures()
    with torch.no_grad():
        assert torch.equal(loaded(image, context=context), inner(image, coarsest(context, 8)))


def test_an_old_multiscale_file_saved_again_is_a_model_of_the_new_kind(tmp_path):
    inner = FirstLinearModel(lut_size=5, basis_count=2, features=1)
    old_multiscale_file(tmp_path / "old.pt", inner, [2])
    loaded, _ = load_model(tmp_path / "old.pt")
    save_model(tmp_path / "new.pt", loaded)
    again, _ = load_model(tmp_path / "new.pt")
    assert again.name == "first-linear" and again.scales == (2,)
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    assert (payload["model"], payload["scales"]) == ("first-linear", [2])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda config: config.pop("model_config"), "damaged lutcli model file: 'model_config'"),
        (lambda config: config.update(model_config=[2]), "model_config must be a dict"),
        (lambda config: config.update(scales=[1]), "down-sampling factors must be integers"),
        (lambda config: config.update(model="multiscale"), "cannot be loaded: multi-scale"),
        (lambda config: config.update(model="nope"), "cannot be loaded: unknown model 'nope'"),
    ],
    ids=["no model_config", "model_config not a dict", "bad scales", "itself", "unknown inner"],
)
def test_a_broken_old_multiscale_file_is_one_line(tmp_path, change, expected):
    inner = FirstLinearModel(lut_size=5, basis_count=2)
    path = tmp_path / "old.pt"
    old_multiscale_file(path, inner, [2, 4])
    payload = torch.load(path, weights_only=True)
    change(payload["config"])
    save_payload(path, payload)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert str(path) in message and expected in message and "\n" not in message


# The name "multiscale" -------------------------------------------------------------------------


def test_multiscale_is_not_a_zoo_model_and_its_name_points_to_scales():
    assert "multiscale" not in MODELS
    with pytest.raises(LutcliError, match="not a model of its own.*--scales") as caught:
        create_model("multiscale", lut_size=5)
    assert "\n" not in str(caught.value)


def test_a_basic_model_with_scales_is_one_lut_for_every_picture():
    model = create_model("basic", lut_size=5)
    red, green, blue = identity_lut(5)
    with torch.no_grad():
        model.lut.copy_(torch.stack([red**0.7, green, 0.2 + 0.6 * blue]))
    image, context = pictures()
    with torch.no_grad():
        plain = model(image, context=context)
        model.scales = (2, 4)
        assert torch.equal(model(image, context=context), plain)
        assert torch.equal(model(image), plain)
