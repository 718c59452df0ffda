"""Distilling a teacher into a zoo model: the library call behind ``lutcli distill``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lutcli.clip_settings import DEFAULT_CLIP_FRAMES
from lutcli.distillation.ground_truth import GroundTruth
from lutcli.distillation.teachers import Teacher, TeacherError
from lutcli.errors import DatasetError, ImageReadError
from lutcli.io.clip_frames import clip_frames, frame_name
from lutcli.io.folders import is_clip_path, scan_folder
from lutcli.training.data import Pair
from lutcli.training.folder import check_model_output, train_from_pairs
from lutcli.training.trainer import TrainingResult

PROBE_NAME = "probe (identity Hald image)"
# A teacher that fails on this many pictures before any success is broken, not unlucky: stop
# rather than report the same failure for every picture of a large folder.
BROKEN_AFTER = 3


@dataclass
class Distillation:
    """What a distillation did: the training result and how the ground truth was made."""

    training: TrainingResult
    pictures: int
    from_cache: int
    failed: list[str] = field(default_factory=list)


def distill_folder(
    teacher: Teacher,
    images_folder: str | os.PathLike,
    output: str | os.PathLike,
    probe: bool = False,
    cache_root: Path | None = None,
    recursive: bool = False,
    warn: Callable[[str], None] = lambda _: None,
    on_taught: Callable[[int, int], None] = lambda done, total: None,
    frames: int = DEFAULT_CLIP_FRAMES,
    **training: Any,
) -> Distillation:
    """Train a zoo model on ``teacher``'s outputs for the pictures of ``images_folder``: its
    photos, and ``frames`` frames spread over each of its clips (``lutcli.io.clip_frames``).

    Pictures the teacher fails on are reported through ``warn`` and left out; when it fails on
    all of them, or on the first BROKEN_AFTER, TeacherError. With ``probe``, an identity Hald
    image joins the pictures so that every lattice cell sees a color (for teachers that map
    each color alone).
    ``training`` takes the arguments of ``train_from_pairs`` after ``output``.
    """
    folder = Path(images_folder)
    if not folder.is_dir():
        raise DatasetError(f"no folder at '{folder}'")
    # Before the teacher runs: a slow teacher must not make the user wait to hear this.
    resume, overwrite = training.get("resume", False), training.get("overwrite", False)
    check_model_output(output, resume, overwrite, [folder])
    sources = scan_folder(folder, recursive, clips=True).files
    if not sources:
        raise DatasetError(f"no images or clips in '{folder}'")
    ground_truth = GroundTruth(teacher, cache_root)
    named = []
    for path in sources:
        name = str(path.relative_to(folder))
        if is_clip_path(path):
            named += [
                (frame_name(name, t), frame) for t, frame in clip_frames(path, frames, cache_root)
            ]
        else:
            named.append((name, path))
    if probe:
        named.append((PROBE_NAME, ground_truth.probe()))
    pairs, failed, from_cache = [], [], 0
    for done, (name, source) in enumerate(named, start=1):
        try:
            target, cached = ground_truth.target_for(source)
        except (TeacherError, ImageReadError) as error:
            failed.append(name)
            if not pairs and len(failed) == BROKEN_AFTER:
                raise TeacherError(
                    f"the teacher failed on the first {BROKEN_AFTER} pictures; the last: {error}"
                ) from None
            warn(f"skipped: {error}")
        else:
            pairs.append(Pair(name, source, target))
            from_cache += cached
        on_taught(done, len(named))
    if not pairs:
        raise TeacherError(
            f"the teacher failed on every picture ({len(named)}): nothing to learn from"
        )
    info = {"teacher": teacher.spec, "probe": probe}
    # The probe is there to be learned from: it is never the picture held out for validation.
    photos = [pair for pair in pairs if pair.name != PROBE_NAME]
    probes = [pair for pair in pairs if pair.name == PROBE_NAME]
    if not photos:  # the teacher failed on every photo, not on the probe: it is all there is
        photos, probes = probes, []
    result = train_from_pairs(
        photos, output, cache_root=cache_root, warn=warn, info=info, train_only=probes, **training
    )
    return Distillation(result, len(named), from_cache, failed)
