"""Training a model from a folder of small synthetic pairs: what ``lutcli train`` promises.

The pairs are 64x64 pictures made in code whose targets are a known color look computed in
numpy, so a model that learned the look reproduces it on pictures it never saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lutcli.errors import LutcliError
from lutcli.fileutil import default_cache_root
from lutcli.models.base import fix_picture_size
from lutcli.models.files import load_model, save_payload
from lutcli.models.networks import (
    STANDARDIZED_SPREAD_FLOOR,
    SamplingLayers,
    color_statistics,
)
from lutcli.models.registry import create_model
from lutcli.training.data import PictureSample, SampleList, find_pairs
from lutcli.training.folder import train_from_folder
from lutcli.training.prepared import PreparedSamples, TrainingCache, prepare_pairs
from lutcli.training.trainer import (
    Trainer,
    TrainingOptions,
    TrainingResult,
    TrainingStatus,
    load_state,
    split_samples,
    state_path_for,
    validate,
)

LUT_SIZE = 17
# Small crops so that an epoch over four 64x64 pairs takes several steps.
FAST = {"batch_size": 2, "crop_size": 32}


def look(rgb: np.ndarray) -> np.ndarray:
    """A warm look on float RGB in [0, 1]: per-channel curves, then a little channel mixing."""
    curved = rgb ** np.array([0.8, 1.0, 1.25])
    mix = np.array([[0.90, 0.08, 0.02], [0.05, 0.90, 0.05], [0.00, 0.10, 0.85]])
    return np.clip(curved @ mix.T + np.array([0.04, 0.0, 0.06]), 0, 1)


def random_picture(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """(size, size, 3) uint8: smooth color regions plus grain, reaching most of the color cube."""
    regions = cv2.resize(rng.random((4, 4, 3)), (size, size), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 0.15, (size, size, 3))
    return np.round(np.clip(regions + grain, 0, 1) * 255).astype(np.uint8)


def to_8bit(rgb: np.ndarray) -> np.ndarray:
    return np.round(rgb * 255).astype(np.uint8)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))


def make_pairs(root: Path, count: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "input").mkdir(parents=True)
    (root / "target").mkdir()
    for index in range(count):
        picture = random_picture(rng)
        write_rgb(root / "input" / f"pair{index}.png", picture)
        write_rgb(root / "target" / f"pair{index}.png", to_8bit(look(picture / 255)))
    return root


def output_in(folder: Path) -> Path:
    """A model path in a new folder (each run of a comparison writes its own)."""
    folder.mkdir(parents=True)
    return folder / "look.pt"


def psnr_8bit(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pairs(tmp_path_factory.mktemp("pairs"), count=4)


@dataclass
class Run:
    """One training run and what the user was shown along the way."""

    output: Path
    result: TrainingResult
    statuses: list[TrainingStatus] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def train(
    pairs: Path,
    output: Path,
    resume: bool = False,
    overwrite: bool = False,
    lut_size: int = LUT_SIZE,
    on_status=None,
    model_name: str = "basic",
    **options,
) -> Run:
    statuses: list[TrainingStatus] = []
    warnings: list[str] = []

    def record(status: TrainingStatus) -> None:
        statuses.append(status)
        if on_status is not None:
            on_status(status)

    result = train_from_folder(
        pairs,
        output,
        model_name,
        lut_size=lut_size,
        options=TrainingOptions(**{**FAST, **options}),
        device="cpu",
        resume=resume,
        overwrite=overwrite,
        on_status=record,
        warn=warnings.append,
    )
    return Run(output, result, statuses, warnings)


def saved_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a model file."""
    return load_model(path)[0].state_dict()


def final_tensors(run: Run) -> dict[str, torch.Tensor]:
    """The tensors at the end of training (the state beside the model), best or not."""
    return load_state(state_path_for(run.output))["state_dict"]


def same_tensors(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    """Whether two state dicts hold bit-identical tensors."""
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def assert_same_history(first: list[dict[str, float]], second: list[dict[str, float]]) -> None:
    assert [h["epoch"] for h in first] == [h["epoch"] for h in second]
    for a, b in zip(first, second, strict=True):
        for key in ("loss", "validation_psnr"):
            assert a[key] == pytest.approx(b[key], abs=1e-6, nan_ok=True), (a, b)


def validation_samples(pairs: Path, names: list[str]) -> PreparedSamples:
    """The pairs of these names, prepared as training prepares them."""
    chosen = [pair for pair in find_pairs(pairs) if pair.name in names]
    return prepare_pairs(chosen, TrainingCache(default_cache_root(), resolution=480))[0]


@pytest.fixture(scope="module")
def trained(pairs: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return train(pairs, tmp_path_factory.mktemp("trained") / "look.pt", epochs=3)


# Holding out validation pairs ------------------------------------------------------------------


@pytest.mark.parametrize("count", [2, 3, 10, 25])
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9])
def test_validation_pairs_are_held_out_from_training(count, fraction):
    train_indices, validation = split_samples(count, fraction, seed=0)
    assert len(validation) == min(count - 1, max(1, round(count * fraction)))
    assert 1 <= len(validation) and 1 <= len(train_indices)
    assert sorted(train_indices + validation) == list(range(count))


def test_at_most_validation_pairs_are_held_out_of_a_large_folder():
    train_indices, validation = split_samples(5000, 0.1, seed=0, most=500)
    assert len(validation) == 500 and len(train_indices) == 4500
    assert sorted(train_indices + validation) == list(range(5000))


def test_the_same_seed_holds_out_the_same_pairs():
    splits = {seed: split_samples(20, 0.25, seed) for seed in range(5)}
    for seed, split in splits.items():
        assert split_samples(20, 0.25, seed) == split
    assert len({tuple(sorted(validation)) for _, validation in splits.values()}) > 1


def test_a_single_pair_is_used_for_training_and_validation():
    assert split_samples(1, 0.1, seed=0) == ([0], [0])


# The result of a run ---------------------------------------------------------------------------


def test_training_writes_a_model_that_reproduces_the_look(trained):
    assert trained.output.is_file()
    assert state_path_for(trained.output).is_file()
    assert trained.warnings == []
    assert trained.result.best_psnr > 35
    model, _ = load_model(trained.output)
    assert model.name == "basic" and model.lut_size == LUT_SIZE
    # A picture the model never saw gets the look too.
    picture = random_picture(np.random.default_rng(99))
    with torch.no_grad():
        output = model(torch.from_numpy(picture).permute(2, 0, 1)[None].float() / 255)
    graded = to_8bit(output[0].clamp(0, 1).permute(1, 2, 0).numpy())
    assert psnr_8bit(graded, to_8bit(look(picture / 255))) > 35


def test_the_history_starts_with_the_warm_start_as_epoch_zero(trained):
    history = trained.result.history
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]
    assert math.isnan(history[0]["loss"])  # no gradient step yet
    assert history[0]["validation_psnr"] > 35  # the warm start alone already has the look
    assert all(h["loss"] < 1e-3 for h in history[1:])
    assert trained.result.epochs_run == 3
    assert not trained.result.stopped_early
    assert trained.result.best_psnr == max(h["validation_psnr"] for h in history)
    assert history[trained.result.best_epoch]["validation_psnr"] == trained.result.best_psnr


def test_a_model_that_trains_from_the_identity_returns_the_fit_if_no_epoch_beats_it(
    pairs, tmp_path
):
    """first-product starts from the identity, with the exact fit of one LUT as the model to
    beat: on a look that one LUT makes, two short epochs do not reach it, and the model saved
    is the fit, with the colors ``basic`` starts as: exactly, but near the color cube's
    edges, where composing LUTs clamps each lattice value of the fit to the cube."""
    run = train(pairs, output_in(tmp_path / "product"), model_name="first-product", epochs=2)
    history = run.result.history
    assert history[0]["validation_psnr"] < 30  # the identity: the pictures as they are
    assert history[0]["fit_psnr"] > 35
    assert all(h["validation_psnr"] < history[0]["fit_psnr"] for h in history)
    assert (run.result.best_epoch, run.result.best_psnr) == (0, history[0]["fit_psnr"])
    fitted = train(pairs, output_in(tmp_path / "basic"), epochs=0)
    assert fitted.result.best_psnr == pytest.approx(run.result.best_psnr, abs=0.1)
    picture = torch.from_numpy(random_picture(np.random.default_rng(7))).permute(2, 0, 1)
    picture = picture[None].float() / 255
    with torch.no_grad():
        product = load_model(run.output)[0](picture)
        basic = load_model(fitted.output)[0](picture)
    apart = (product - basic.clamp(0, 1)).abs()
    assert (apart < 1e-5).float().mean() > 0.98
    assert apart.max() < 4 / 255


def test_an_epoch_that_beats_the_fit_replaces_it(tmp_path):
    """Where the pictures are already right, the identity (epoch 0 of first-product) beats the
    fit, whose smoothness costs a little: it is the best model, and changes nothing."""
    pairs = make_pairs(tmp_path / "pairs", count=4)
    for target in (pairs / "target").iterdir():
        target.write_bytes((pairs / "input" / target.name).read_bytes())
    run = train(pairs, output_in(tmp_path / "product"), model_name="first-product", epochs=0)
    first = run.result.history[0]
    assert first["validation_psnr"] > first["fit_psnr"]
    assert (run.result.best_epoch, run.result.best_psnr) == (0, first["validation_psnr"])
    picture = torch.rand(1, 3, 20, 30)
    with torch.no_grad():
        torch.testing.assert_close(load_model(run.output)[0](picture), picture, atol=1e-5, rtol=0)


def test_the_networks_statistics_are_standardized_by_the_training_pictures(pairs, tmp_path):
    """Before the first step, each network's color statistics are centered and scaled by those
    of the training pictures as the untrained model sees them (both networks of a
    second-product alike: each starts as the identity), and the saved model keeps them."""
    options = TrainingOptions(**FAST)
    run = train(pairs, output_in(tmp_path / "m"), model_name="second-product", epochs=0)
    model = load_model(run.output)[0]
    found = find_pairs(pairs)
    training, _ = split_samples(
        len(found), options.validation_fraction, options.seed, options.validation_pairs
    )
    pictures = [cv2.imread(str(found[i].input_path))[..., ::-1] / 255 for i in training]
    statistics = torch.cat(
        [
            color_statistics(fix_picture_size(torch.from_numpy(p.copy()).permute(2, 0, 1)[None]))
            for p in pictures
        ]
    ).float()
    layers = [m for m in model.modules() if isinstance(m, SamplingLayers)]
    assert len(layers) == 2
    for layer in layers:
        torch.testing.assert_close(layer.statistics_center, statistics.mean(dim=0))
        assert torch.all(layer.statistics_scale >= STANDARDIZED_SPREAD_FLOOR)
        assert torch.all(layer.statistics_scale**2 >= statistics.var(dim=0))


def test_the_model_file_records_how_it_was_trained(trained):
    _, info = load_model(trained.output)
    assert info["pairs"] == 4
    assert len(info["validation_pairs"]) == 1  # 10% of 4 pairs, at least one
    assert info["validation_pairs"][0] in {f"pair{i}" for i in range(4)}
    assert info["epoch"] == trained.result.best_epoch
    assert info["validation_psnr"] == trained.result.best_psnr
    assert info["training_options"]["epochs"] == 3
    assert info["training_options"]["crop_size"] == FAST["crop_size"]


def test_progress_is_reported_step_by_step_up_to_the_last_epoch(trained):
    statuses = trained.statuses
    total = statuses[0].total_steps
    assert all(s.total_steps == total and s.epochs == 3 for s in statuses)
    steps_per_epoch = total // 3
    assert steps_per_epoch > 1  # 3 pairs of 64x64 in crops of 2x32x32
    # Epoch 0 is the warm start: validated before any step.
    assert (statuses[0].epoch, statuses[0].step) == (0, 0)
    assert statuses[0].validation_psnr is not None and math.isnan(statuses[0].loss)
    steps = [s.step for s in statuses]
    assert steps == sorted(steps)
    training_steps = [s.step for s in statuses if s.validation_psnr is None]
    assert training_steps == list(range(1, total + 1))
    validations = [s for s in statuses if s.validation_psnr is not None]
    assert [s.epoch for s in validations] == [0, 1, 2, 3]
    assert [s.step for s in validations] == [e * steps_per_epoch for e in range(4)]
    assert [s.validation_psnr for s in validations] == [
        h["validation_psnr"] for h in trained.result.history
    ]
    last = statuses[-1]
    assert (last.epoch, last.step) == (3, total)
    assert last.best_psnr == trained.result.best_psnr
    assert all(0 <= s.loss < 1e-3 for s in statuses if s.validation_psnr is None)


@pytest.mark.parametrize(("side", "expected"), [(16, 4), (64, 16)])
def test_an_epoch_draws_about_the_pixels_of_the_training_pictures(tmp_path, side, expected):
    """8 pictures in crops of 32x32, 2 a step: pictures smaller than a crop count whole."""
    picture = torch.zeros(3, side, side)
    samples = SampleList([PictureSample(f"s{i}", picture, picture, picture) for i in range(8)])
    options = TrainingOptions(batch_size=2, crop_size=32)
    trainer = Trainer(
        create_model("basic", lut_size=3),
        samples,
        samples,
        tmp_path / "m.pt",
        options,
        torch.device("cpu"),
    )
    assert trainer.steps_per_epoch == expected


def test_training_runs_on_the_device_asked_for(pairs, tmp_path, device):
    # On a GPU machine this trains on CUDA too; the model file loads on the CPU either way.
    result = train_from_folder(
        pairs,
        tmp_path / "look.pt",
        lut_size=LUT_SIZE,
        options=TrainingOptions(epochs=1, **FAST),
        device=device,
    )
    assert result.best_psnr > 35
    assert load_model(tmp_path / "look.pt")[0].lut.device.type == "cpu"


def test_a_single_pair_trains_and_validates_on_itself(tmp_path):
    pairs = make_pairs(tmp_path / "one", count=1)
    run = train(pairs, tmp_path / "look.pt", epochs=1)
    assert any("only one pair" in warning for warning in run.warnings)
    assert run.result.best_psnr > 35
    assert load_model(run.output)[1]["validation_pairs"] == ["pair0"]


def test_validation_in_strips_scores_what_the_whole_pictures_score():
    torch.manual_seed(0)
    model = create_model("second-linear", lut_size=9).eval()
    with torch.no_grad():  # a generated LUT that depends on the whole picture
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                module.weight.normal_(0, 0.05)
    generator = torch.Generator().manual_seed(1)
    pictures = [torch.rand(3, 700, 500, generator=generator) for _ in range(2)]  # 2 strips each
    samples = [
        PictureSample(f"p{i}", p, p.flip(0), fix_picture_size(p[None])[0])
        for i, p in enumerate(pictures)
    ]
    with torch.no_grad():
        errors = [
            ((model(s.input[None], context=s.context[None]).clamp(0, 1) - s.target) ** 2).mean()
            for s in samples
        ]
    expected = -10 * math.log10(float(torch.stack(errors).mean()))
    score = validate(model, SampleList(samples), torch.device("cpu"))
    assert score == pytest.approx(expected, abs=1e-4)


# The best model, early stopping ----------------------------------------------------------------


@pytest.fixture(scope="module")
def overshooting(pairs: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A run whose learning rate is far too high: every epoch after the warm start is worse."""
    output = tmp_path_factory.mktemp("overshooting") / "look.pt"
    return train(pairs, output, epochs=30, patience=3, learning_rate=0.05)


def test_the_saved_model_is_the_best_by_validation_psnr(overshooting, pairs):
    result = overshooting.result
    model, info = load_model(overshooting.output)
    assert info["epoch"] == result.best_epoch
    validation = validation_samples(pairs, info["validation_pairs"])
    assert validate(model, validation, torch.device("cpu")) == pytest.approx(
        result.best_psnr, abs=1e-9
    )
    # Training went on past the best epoch to a worse LUT, which was not saved.
    assert result.history[-1]["validation_psnr"] < result.best_psnr - 1
    assert not same_tensors(final_tensors(overshooting), model.state_dict())


def test_patience_stops_training_early(overshooting):
    result = overshooting.result
    assert result.stopped_early
    assert result.epochs_run == result.best_epoch + 3 < 30
    assert [h["epoch"] for h in result.history] == list(range(result.epochs_run + 1))
    assert overshooting.statuses[-1].epoch == result.epochs_run


def test_gains_under_min_improvement_are_a_plateau_that_ends_the_run(pairs, tmp_path):
    moving = {**MOVING, "patience": 2, "epochs": 6}
    rising = train(pairs, output_in(tmp_path / "a"), min_improvement=0.0, **moving).result
    scores = [h["validation_psnr"] for h in rising.history]
    assert all(later > earlier for earlier, later in pairwise(scores))  # every epoch gains
    assert not rising.stopped_early and rising.epochs_run == 6
    # The same run, where no gain is large enough to count: it stops after the patience.
    total_gain = scores[-1] - scores[0]
    flat = train(pairs, output_in(tmp_path / "b"), min_improvement=total_gain, **moving).result
    assert flat.stopped_early and flat.epochs_run == 2
    assert_same_history(flat.history, rising.history[:3])
    assert flat.best_epoch == 2  # the best model is kept, however small its gain


# Reproducibility -------------------------------------------------------------------------------


@pytest.mark.parametrize("warm_start", [True, False])
def test_the_same_seed_gives_the_same_model(pairs, tmp_path, warm_start):
    first = train(pairs, output_in(tmp_path / "a"), epochs=2, seed=5, warm_start=warm_start)
    second = train(pairs, output_in(tmp_path / "b"), epochs=2, seed=5, warm_start=warm_start)
    assert same_tensors(saved_tensors(first.output), saved_tensors(second.output))
    assert same_tensors(final_tensors(first), final_tensors(second))
    assert_same_history(first.result.history, second.result.history)


def test_another_seed_gives_another_model(pairs, tmp_path):
    first = train(pairs, output_in(tmp_path / "a"), epochs=2, seed=5, warm_start=False)
    second = train(pairs, output_in(tmp_path / "b"), epochs=2, seed=6, warm_start=False)
    assert not same_tensors(final_tensors(first), final_tensors(second))


# Resuming --------------------------------------------------------------------------------------


class Interrupted(Exception):
    """Stands in for Ctrl-C or a lost machine."""


def interrupt_after_epoch(epoch: int):
    def on_status(status: TrainingStatus) -> None:
        if status.validation_psnr is not None and status.epoch == epoch:
            raise Interrupted

    return on_status


# A rate at which the LUT moves visibly in a few epochs, without the warm start.
MOVING = {"warm_start": False, "learning_rate": 0.01, "patience": 100}


@pytest.mark.parametrize("moving", [MOVING, {"patience": 100}], ids=["gradient", "warm-start"])
def test_an_interrupted_run_resumes_to_the_same_model_as_an_uninterrupted_one(
    pairs, tmp_path, moving
):
    whole = train(pairs, output_in(tmp_path / "a"), epochs=6, **moving)
    output = output_in(tmp_path / "b")
    with pytest.raises(Interrupted):
        train(pairs, output, epochs=6, on_status=interrupt_after_epoch(3), **moving)
    assert output.is_file()  # the best model so far is there already
    interrupted = load_state(state_path_for(output))["state_dict"]
    resumed = train(pairs, output, epochs=6, resume=True, **moving)
    assert not same_tensors(final_tensors(resumed), interrupted)  # epochs 4 to 6 did train
    assert [h["epoch"] for h in resumed.result.history] == list(range(7))
    assert_same_history(resumed.result.history, whole.result.history)
    assert same_tensors(final_tensors(resumed), final_tensors(whole))
    assert same_tensors(saved_tensors(resumed.output), saved_tensors(whole.output))
    assert (resumed.result.best_epoch, resumed.result.best_psnr) == (
        whole.result.best_epoch,
        whole.result.best_psnr,
    )
    # Progress goes on from where it stopped, not from zero.
    assert resumed.statuses[0].epoch == 4
    assert resumed.statuses[0].step == 3 * resumed.statuses[0].total_steps // 6 + 1


def test_a_state_saved_before_min_improvement_existed_resumes(pairs, tmp_path):
    whole = train(pairs, output_in(tmp_path / "a"), epochs=4, **MOVING)
    output = output_in(tmp_path / "b")
    with pytest.raises(Interrupted):
        train(pairs, output, epochs=4, on_status=interrupt_after_epoch(2), **MOVING)
    state = load_state(state_path_for(output))
    # What an earlier lutcli saved: no progress epochs, the stage's under their older names.
    del state["improved_psnr"], state["improved_epoch"]
    state["stage_best_psnr"] = state.pop("stage_improved_psnr")
    state["stage_best_epoch"] = state.pop("stage_improved_epoch")
    save_payload(state_path_for(output), state)
    resumed = train(pairs, output, epochs=4, resume=True, **MOVING)
    assert_same_history(resumed.result.history, whole.result.history)
    assert same_tensors(final_tensors(resumed), final_tensors(whole))


def test_a_run_interrupted_mid_epoch_resumes_from_its_last_checkpoint(pairs, tmp_path):
    whole = train(pairs, output_in(tmp_path / "a"), epochs=2, **MOVING)
    steps = whole.statuses[-1].total_steps // 2  # a step's status comes after its step
    middle = steps + steps // 2  # half-way through the second epoch

    def interrupt_mid_epoch(status: TrainingStatus) -> None:
        if status.validation_psnr is None and status.step == middle:
            raise Interrupted

    output = output_in(tmp_path / "b")
    with pytest.raises(Interrupted):
        train(pairs, output, epochs=2, checkpoint_every=1, on_status=interrupt_mid_epoch, **MOVING)
    saved = load_state(state_path_for(output))
    assert (saved["epoch"], saved["step"]) == (1, middle)
    resumed = train(pairs, output, epochs=2, resume=True, checkpoint_every=1, **MOVING)
    assert resumed.statuses[0].step == middle + 1  # it went on from the saved step
    assert_same_history(resumed.result.history, whole.result.history)
    assert same_tensors(final_tensors(resumed), final_tensors(whole))


def test_checkpoints_every_n_steps_are_saved_within_the_epoch(pairs, tmp_path):
    saved_steps: list[int] = []
    output = output_in(tmp_path / "a")

    def watch(status: TrainingStatus) -> None:
        if status.validation_psnr is None and state_path_for(output).exists():
            saved_steps.append(load_state(state_path_for(output))["step"])

    run = train(pairs, output, epochs=1, checkpoint_every=2, on_status=watch, **MOVING)
    steps = run.statuses[-1].total_steps
    assert steps >= 4
    # After the warm start (step 0), the state follows every second step within the epoch; the
    # epoch's last step is saved with the epoch, after its validation.
    expected = [2 * (min(step, steps - 1) // 2) for step in range(1, steps + 1)]
    assert saved_steps == expected


def test_resuming_with_more_epochs_extends_a_finished_run(pairs, tmp_path):
    short = train(pairs, output_in(tmp_path / "a"), epochs=3, **MOVING)
    short_history = list(short.result.history)
    extended = train(pairs, short.output, epochs=6, resume=True, **MOVING)
    assert [h["epoch"] for h in extended.result.history] == list(range(7))
    assert_same_history(extended.result.history[:4], short_history)
    assert extended.result.best_psnr >= short.result.best_psnr
    assert extended.statuses[-1].epoch == 6
    # The history's clock (what the PSNR-against-seconds curves plot) runs on across the resume.
    seconds = [h["seconds"] for h in extended.result.history]
    assert seconds[:4] == [h["seconds"] for h in short_history]
    assert seconds == sorted(set(seconds))  # strictly increasing


def learning_rates(trainer: Trainer) -> list[float]:
    """Run ``trainer``; the learning rate of every step."""
    rates: list[float] = []

    def on_status(status: TrainingStatus) -> None:
        if status.validation_psnr is None:
            rates.append(trainer.optimizer.param_groups[0]["lr"])

    trainer.run(on_status)
    return rates


def test_an_extended_run_follows_the_learning_rate_schedule_of_its_new_length(pairs, tmp_path):
    # The rate decays to zero at the last epoch so the LUT settles: an extended run must decay
    # over the new length, not restart from zero or climb back to the full rate.
    samples = validation_samples(pairs, [pair.name for pair in find_pairs(pairs)])
    train_indices, validation_indices = split_samples(len(samples), 0.1, seed=0)
    train_samples, validation = samples.subset(train_indices), samples.subset(validation_indices)

    def trainer(epochs: int, output: Path) -> Trainer:
        options = TrainingOptions(epochs=epochs, **FAST, **MOVING)
        model = create_model("basic", lut_size=LUT_SIZE)
        return Trainer(model, train_samples, validation, output, options, torch.device("cpu"))

    whole = learning_rates(trainer(6, output_in(tmp_path / "a")))
    output = output_in(tmp_path / "b")
    first = learning_rates(trainer(3, output))
    extension = trainer(6, output)
    extension.resume()
    rest = learning_rates(extension)
    steps = extension.steps_per_epoch
    assert len(first) == len(rest) == 3 * steps
    assert first[-1] == pytest.approx(0, abs=1e-12)  # the short run settled at its end
    assert rest == pytest.approx(whole[3 * steps :], rel=1e-6, abs=1e-12)
    assert rest[-1] == pytest.approx(0, abs=1e-12)


def test_resuming_without_a_saved_state_is_an_error(pairs, tmp_path):
    with pytest.raises(LutcliError, match="nothing to resume"):
        train(pairs, tmp_path / "look.pt", epochs=1, resume=True)
    assert not (tmp_path / "look.pt").exists()


def test_resuming_another_model_is_an_error(pairs, tmp_path):
    output = tmp_path / "look.pt"
    train(pairs, output, epochs=1)
    with pytest.raises(LutcliError, match="different model"):
        train(pairs, output, epochs=2, resume=True, lut_size=LUT_SIZE + 2)


# The output file -------------------------------------------------------------------------------


def test_an_existing_model_is_not_replaced_without_overwrite(pairs, tmp_path):
    output = tmp_path / "look.pt"
    output.write_bytes(b"an earlier model")
    with pytest.raises(LutcliError, match="--overwrite"):
        train(pairs, output, epochs=1)
    assert output.read_bytes() == b"an earlier model"


def test_overwrite_starts_afresh(pairs, tmp_path):
    output = tmp_path / "look.pt"
    train(pairs, output, epochs=2)
    again = train(pairs, output, epochs=1, overwrite=True)
    assert [h["epoch"] for h in again.result.history] == [0, 1]
    assert load_model(output)[1]["training_options"]["epochs"] == 1


def test_a_missing_output_folder_is_an_error(pairs, tmp_path):
    with pytest.raises(LutcliError, match="no folder"):
        train(pairs, tmp_path / "missing/look.pt", epochs=1)
