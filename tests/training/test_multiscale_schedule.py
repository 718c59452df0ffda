"""Multi-scale training: with ``scales`` each step trains at one scale of the pyramid in turn
(full size, then each down-sampling factor, crops and targets averaged down alike), the model
keeps the scales, and a resumed run goes on with the scale it was at."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lutcli.errors import LutcliError
from lutcli.models.files import load_model
from lutcli.models.registry import create_model
from lutcli.training.data import PictureSample, SampleList
from lutcli.training.multiscale import pyramid_factor, pyramid_level
from lutcli.training.trainer import Trainer, TrainingOptions, load_state, state_path_for

CROP = 16


def batch(height: int = 16, width: int = 16, seed: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(2, 3, height, width, generator=generator) for _ in range(2))


# The schedule ----------------------------------------------------------------------------------


def test_steps_take_full_size_then_every_factor_in_turn():
    assert [pyramid_factor(step, (2, 4), 16) for step in range(7)] == [1, 2, 4, 1, 2, 4, 1]
    assert [pyramid_factor(step, (), 16) for step in range(3)] == [1, 1, 1]


def test_factors_that_leave_no_pixel_are_skipped():
    # The short side is 12: 12 still leaves one row of pixels, 32 none.
    assert [pyramid_factor(step, (2, 12, 32), 12) for step in range(4)] == [1, 2, 12, 1]
    assert [pyramid_factor(step, (16, 32), 8) for step in range(3)] == [1, 1, 1]


def test_each_level_averages_crops_and_targets_down_alike():
    inputs, targets = batch(12, 20)
    assert pyramid_level(inputs, targets, 0, (2, 4)) == (inputs, targets)
    for step, factor in ((1, 2), (2, 4)):
        small = pyramid_level(inputs, targets, step, (2, 4))
        # Block averages, computed independently of torch's pooling.
        height, width = 12 // factor, 20 // factor
        for got, whole in zip(small, (inputs, targets), strict=True):
            blocks = whole.reshape(2, 3, height, factor, width, factor).mean(dim=(3, 5))
            torch.testing.assert_close(got, blocks)


# The trainer -----------------------------------------------------------------------------------


def samples(count: int = 3) -> SampleList:
    """Pairs made in code: a picture and a warmer copy of it."""
    generator = torch.Generator().manual_seed(1)
    pairs = []
    for index in range(count):
        picture = torch.rand(3, 32, 32, generator=generator)
        target = (picture * torch.tensor([1.1, 1.0, 0.8]).view(3, 1, 1)).clamp(0, 1)
        context = F.interpolate(picture[None], size=(256, 256), mode="bilinear")[0]
        pairs.append(PictureSample(f"p{index}", picture, target, context))
    return SampleList(pairs)


def trainer(output, scales, epochs: int = 2, **options) -> tuple[Trainer, list[int]]:
    """A trainer of a basic model and the side of the crops of every step its loss sees."""
    settings = {"batch_size": 2, "crop_size": CROP, "workers": 0, "warm_start": False}
    settings.update(options)
    options = TrainingOptions(epochs=epochs, scales=scales, learning_rate=0.01, **settings)
    model = create_model("basic", lut_size=5)
    sides: list[int] = []
    loss = model.training_loss

    def seen(inputs, targets, contexts):
        sides.append(inputs.shape[-1])
        return loss(inputs, targets, contexts)

    model.training_loss = seen
    data = samples()
    return Trainer(model, data, data, output, options, torch.device("cpu")), sides


def test_training_steps_go_through_the_pyramid_and_the_model_keeps_it(tmp_path):
    run, sides = trainer(tmp_path / "m.pt", (4, 2))
    run.run()
    steps = 2 * run.steps_per_epoch
    assert steps >= 6 and sides == [[16, 8, 4][step % 3] for step in range(steps)]
    model, _ = load_model(tmp_path / "m.pt")
    assert model.scales == (2, 4)


def test_without_scales_every_step_is_full_size(tmp_path):
    run, sides = trainer(tmp_path / "m.pt", ())
    run.run()
    assert sides == [CROP] * (2 * run.steps_per_epoch)
    assert load_model(tmp_path / "m.pt")[0].scales == ()


class Interrupted(Exception):
    """Stands in for Ctrl-C."""


def test_a_resumed_run_goes_on_with_the_scale_it_was_at(tmp_path):
    whole, whole_sides = trainer(tmp_path / "a.pt", (2, 4))
    whole.run()
    stop = whole.steps_per_epoch + 1  # one step into the second epoch: not a multiple of 3

    def interrupt(status) -> None:
        if status.validation_psnr is None and status.step == stop:
            raise Interrupted

    first, first_sides = trainer(tmp_path / "b.pt", (2, 4), checkpoint_every=1)
    with pytest.raises(Interrupted):
        first.run(interrupt)
    assert load_state(state_path_for(tmp_path / "b.pt"))["scales"] == [2, 4]
    resumed, resumed_sides = trainer(tmp_path / "b.pt", (2, 4), checkpoint_every=1)
    resumed.resume()
    resumed.run()
    assert first_sides + resumed_sides == whole_sides
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[name], tensor)


def test_resuming_at_other_scales_is_an_error(tmp_path):
    first, _ = trainer(tmp_path / "m.pt", (2, 4), epochs=1)
    first.run()
    again, _ = trainer(tmp_path / "m.pt", (2,), epochs=2)
    with pytest.raises(LutcliError, match=r"trains at scales \[2, 4\], not \[2\] \(--scales\)"):
        again.resume()
