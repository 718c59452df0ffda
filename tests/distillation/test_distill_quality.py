"""The product bar for distillation, on real photos: a look made by a real tool (ffmpeg's color
filters, run as a command teacher) is learned from seven unlabeled photos and reproduced on
three photos distillation never saw, with and without the Hald probe.

``pytest -s`` shows the per-photo PSNR and the times.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from lutcli.distillation.distill import distill_folder
from lutcli.distillation.teachers import CommandTeacher, parse_teacher
from lutcli.models.files import load_model
from lutcli.samples import FFMPEG_LOOK, split_photos, write_pairs
from lutcli.training.evaluation import evaluate
from lutcli.training.options import TrainingOptions
from quality_support import LATTICE_LIMIT_DB
from teacher_support import write_picture

pytestmark = pytest.mark.slow


def ffmpeg_teacher(filters: str = FFMPEG_LOOK) -> str:
    """The --teacher spec running ffmpeg's ``filters``, as ``samples.ffmpeg_filter`` does."""
    chain = shlex.quote(f"{filters},format=rgb24")
    return f"cmd:ffmpeg -v error -y -i {{input}} -vf {chain} -frames:v 1 {{output}}"


def test_a_distilled_ffmpeg_look_matches_ffmpeg_on_photos_it_never_saw(tmp_path: Path) -> None:
    seen, unseen = split_photos()
    for name, pixels in seen.items():
        write_picture(tmp_path / "images" / f"{name}.png", pixels)  # no targets: unlabeled
    write_pairs(tmp_path / "unseen", unseen)  # unseen/input and ffmpeg's unseen/target
    teacher = parse_teacher(ffmpeg_teacher())
    assert isinstance(teacher, CommandTeacher)
    scores, seconds, epochs, taught = {}, {}, {}, {}
    for probe in (False, True):
        output = tmp_path / ("with-probe.pt" if probe else "without-probe.pt")
        started = time.perf_counter()
        # Adam rarely improves on the exact warm start of a global look: a short patience.
        distillation = distill_folder(
            teacher,
            tmp_path / "images",
            output,
            probe=probe,
            cache_root=tmp_path / "cache",
            options=TrainingOptions(patience=3),
        )
        seconds[probe] = round(time.perf_counter() - started, 1)
        epochs[probe] = distillation.training.epochs_run
        assert distillation.failed == []
        taught[probe] = (distillation.pictures, distillation.from_cache)
        model, info = load_model(output)
        assert info["probe"] is probe and model.name == "basic"
        scores[probe] = {
            name: round(score, 2) for name, score in evaluate(model, tmp_path / "unseen").items()
        }
    print(
        f"\n  without probe: {scores[False]}; with probe: {scores[True]}"
        f"\n  teacher and training: without probe {seconds[False]} s ({epochs[False]} epochs), "
        f"with probe {seconds[True]} s ({epochs[True]} epochs)"
    )
    # The second run taught only the probe: the photos' ground truth came from the cache.
    assert taught == {False: (7, 0), True: (8, 7)}
    for probe, per_photo in scores.items():
        assert sorted(per_photo) == sorted(unseen)
        assert min(per_photo.values()) >= LATTICE_LIMIT_DB, (probe, per_photo)
