"""Staged training: product models train their derived part alone first, then everything.

What a user sees: the history and the progress name the stage of every epoch; the first stage
ends after ``first_stage_epochs`` epochs, or earlier when its validation PSNR stalls for
``first_stage_patience`` epochs; a resumed run goes on in the stage it was interrupted in.
Tiny synthetic pairs (16x16 pictures, one crop a step) keep every run to a few steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from lutcli.models.registry import create_model
from lutcli.training.data import PictureSample, SampleList
from lutcli.training.trainer import (
    Trainer,
    TrainingOptions,
    TrainingResult,
    TrainingStatus,
    load_state,
    state_path_for,
)

STAGED = "first-product"  # the cheapest staged model: one small network
LUT_SIZE = 5
# One 16x16 training pair, crops of 16 and batches of 1: one step an epoch.
BASE = {"batch_size": 1, "crop_size": 16, "patience": 100, "first_stage_patience": 100}


def sample(name: str, seed: int) -> PictureSample:
    """A random picture and its look (warmer, darker blues); the context is the picture itself,
    at its own size (the model resizes it)."""
    generator = torch.Generator().manual_seed(seed)
    picture = torch.rand(3, 16, 16, generator=generator)
    look = torch.stack([picture[0] ** 0.8, picture[1], 0.9 * picture[2] ** 1.2])
    return PictureSample(name, picture, look, picture)


TRAIN = SampleList([sample("a", 0)])
VALIDATION = SampleList([sample("b", 1)])


@dataclass
class Run:
    trainer: Trainer
    result: TrainingResult | None = None
    statuses: list[TrainingStatus] = field(default_factory=list)
    basic_luts: list[torch.Tensor] = field(default_factory=list)  # at every validation


def trainer(output: Path, model: str = STAGED, **options: object) -> Run:
    torch.manual_seed(0)  # the same random network weights for every run
    built = create_model(model, lut_size=LUT_SIZE)
    chosen = TrainingOptions(**{**BASE, **options})
    return Run(Trainer(built, TRAIN, VALIDATION, output, chosen, torch.device("cpu")))


class Interrupted(Exception):
    """Stands in for Ctrl-C or a lost machine."""


def train(job: Run, stop_after: int | None = None) -> Run:
    """Run ``job``; with ``stop_after``, interrupt it once that epoch is validated and saved."""

    def on_status(status: TrainingStatus) -> None:
        job.statuses.append(status)
        if status.validation_psnr is None:
            return
        if hasattr(job.trainer.model, "basic"):
            job.basic_luts.append(job.trainer.model.basic.lut.detach().clone())
        if status.epoch == stop_after:
            raise Interrupted

    try:
        job.result = job.trainer.run(on_status)
    except Interrupted:
        assert stop_after is not None
    return job


def stages_of(history: list[dict[str, float]]) -> list[str]:
    return [entry["stage"] for entry in history]


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A staged model over 4 epochs, the first stage capped at 2."""
    output = tmp_path_factory.mktemp("whole") / "look.pt"
    return train(trainer(output, epochs=4, first_stage_epochs=2))


def test_the_history_names_the_stage_of_every_epoch(whole):
    history = whole.result.history
    assert [entry["epoch"] for entry in history] == [0, 1, 2, 3, 4]
    # Epoch 0 is the warm start, validated before the first stage trains; epochs 1 and 2 train
    # the derived part alone (first_stage_epochs=2), epochs 3 and 4 everything.
    assert stages_of(history) == ["derived", "derived", "derived", "all", "all"]
    assert whole.result.epochs_run == 4 and not whole.result.stopped_early


def test_the_first_stage_trains_the_derived_part_alone(whole):
    start, *during, after_first, _ = whole.basic_luts
    for lut in during:  # the basic LUT stays at its warm start while the derived part trains
        assert torch.equal(lut, start)
    assert not torch.equal(after_first, start)  # then it trains too


def test_progress_names_the_stage(whole):
    statuses = whole.statuses
    assert all(status.stages == 2 for status in statuses)
    steps = [s for s in statuses if s.validation_psnr is None]
    assert [s.epoch for s in steps] == [1, 2, 3, 4]  # one step an epoch
    assert [s.stage for s in steps] == ["derived", "derived", "all", "all"]
    validations = [s for s in statuses if s.validation_psnr is not None]
    assert [s.stage for s in validations] == stages_of(whole.result.history)


def test_the_first_stage_ends_early_when_it_stalls(tmp_path):
    # With a learning rate of 0 nothing moves: the validation PSNR never improves, so the
    # first stage ends after first_stage_patience epochs, long before first_stage_epochs.
    stalled = train(
        trainer(
            tmp_path / "look.pt",
            epochs=3,
            first_stage_epochs=10,
            first_stage_patience=1,
            learning_rate=0.0,
        )
    )
    history = stalled.result.history
    assert stages_of(history) == ["derived", "derived", "all", "all"]
    assert len({entry["validation_psnr"] for entry in history}) == 1  # nothing moved indeed
    assert not stalled.result.stopped_early  # the run's own patience is another matter


def test_a_single_stage_model_has_one_stage(tmp_path):
    single = train(trainer(tmp_path / "look.pt", model="basic", epochs=2, first_stage_epochs=1))
    assert stages_of(single.result.history) == ["all", "all", "all"]
    assert {(s.stage, s.stages) for s in single.statuses} == {("all", 1)}


@pytest.mark.parametrize(
    ("stop_after", "stage", "trained_next"),
    [(1, 0, ["derived", "all", "all"]), (3, 1, ["all"])],
    ids=["in the first stage", "in the second stage"],
)
def test_an_interrupted_run_resumes_in_its_stage(whole, tmp_path, stop_after, stage, trained_next):
    output = tmp_path / "look.pt"
    train(trainer(output, epochs=4, first_stage_epochs=2), stop_after=stop_after)
    state = load_state(state_path_for(output))
    assert state["epoch"] == stop_after and state["stage"] == stage
    assert stages_of(state["history"]) == stages_of(whole.result.history)[: stop_after + 1]

    resumed = trainer(output, epochs=4, first_stage_epochs=2)
    resumed.trainer.resume()
    parameters = dict(resumed.trainer.model.named_parameters())
    assert parameters["basic.lut"].requires_grad == (stage == 1)
    assert all(p.requires_grad for n, p in parameters.items() if n.startswith("derived."))
    train(resumed)

    # It went on in the stage it was in: the same run as one never interrupted, to the bit.
    assert [s.stage for s in resumed.statuses if s.validation_psnr is None] == trained_next
    assert stages_of(resumed.result.history) == stages_of(whole.result.history)
    final = load_state(state_path_for(output))
    expected = load_state(state_path_for(whole.trainer.output))
    assert final["stage"] == expected["stage"] == 1
    for name, tensor in expected["state_dict"].items():
        assert torch.equal(final["state_dict"][name], tensor), name
