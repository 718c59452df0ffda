"""Applying a look to clips, and keeping an image-adaptive look steady in time.

A look that is not adaptive gives every frame the same LUT. An adaptive one chooses each
frame's LUT from the frame, as it does for photos; left at that, a steady shot flickers, because
codec noise and small motion move the choice from one frame to the next. ``TemporalSmoothing``
follows the chosen LUTs with an exponential moving average over a time constant in seconds
(frame-rate independent) and starts afresh at a scene cut, found where the colour histogram of
the frame changes more than a pan or a zoom changes it, so that a new shot adapts at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lutcli.clip_settings import DEFAULT_CLIP_SETTINGS, DEFAULT_TEMPORAL_SMOOTHING, ClipSettings
from lutcli.fileutil import atomic_write, publish_copy
from lutcli.io.video import Frame, transcode
from lutcli.looks import Look
from lutcli.lut.luts import Lut, Lut3D

if TYPE_CHECKING:
    import torch

# Histogram distance (0: the same colours, 1: none in common) above which a frame starts a new
# shot. Pans and zooms within a shot move it by under 0.1 between frames; cuts between
# unrelated shots by 0.3 and more.
CUT_DISTANCE = 0.25
_HISTOGRAM_BINS = 16


def color_histogram(context: torch.Tensor) -> torch.Tensor:
    """Each channel's histogram of a picture context (1, 3, H, W) in [0, 1], normalised to sum
    to one: what tells one shot from another, whatever moves within it."""
    import torch

    values = context[0].clamp(0, 1).reshape(3, -1)
    bins = (values * _HISTOGRAM_BINS).long().clamp_(max=_HISTOGRAM_BINS - 1)
    counts = torch.zeros(3, _HISTOGRAM_BINS).scatter_add_(1, bins, torch.ones_like(values))
    return counts / values.shape[1]


def histogram_distance(first: torch.Tensor, second: torch.Tensor) -> float:
    """Half the L1 distance of two ``color_histogram``s, averaged over the channels: 0 to 1."""
    return float((first - second).abs().sum(dim=1).mean() / 2)


class TemporalSmoothing:
    """The LUT of each frame of a clip, in order: the look's own for a look that is not
    adaptive; for an adaptive one, its choice for the frame followed by an exponential moving
    average with ``time_constant`` seconds (0: every frame its own), restarted at scene cuts."""

    def __init__(self, look: Look, time_constant: float = DEFAULT_TEMPORAL_SMOOTHING) -> None:
        if time_constant < 0:
            raise ValueError(f"the time constant must be 0 or more, got {time_constant}")
        self.look = look
        self.time_constant = time_constant
        self._table: np.ndarray | None = None
        self._seconds = 0.0
        self._histogram: torch.Tensor | None = None
        self.cuts: list[float] = []  # when each shot after the first started, in seconds

    def lut_for(self, pixels: np.ndarray, seconds: float) -> Lut:
        """The LUT for the frame ``pixels`` (RGB) shown at ``seconds``; frames come in order."""
        context = self.look.picture_context(pixels)
        if context is None:
            return self.look.lut_for(None)
        lut = self.look.lut_for(context)
        assert isinstance(lut, Lut3D)  # a model's LUT
        histogram = color_histogram(context.cpu())
        cut = (
            self._histogram is not None
            and histogram_distance(histogram, self._histogram) > CUT_DISTANCE
        )
        self._histogram = histogram
        if cut:
            self.cuts.append(seconds)
        if self._table is None or cut or self.time_constant == 0:
            self._table = lut.table
        else:
            elapsed = max(0.0, seconds - self._seconds)
            weight = 1 - math.exp(-elapsed / self.time_constant)
            self._table = self._table + weight * (lut.table - self._table)
        self._seconds = seconds
        return Lut3D(self._table, lut.domain_min, lut.domain_max, lut.interp)


def process_clip(
    look: Look,
    source: Path,
    destination: Path,
    settings: ClipSettings = DEFAULT_CLIP_SETTINGS,
    threads: int | None = None,
    replace: bool = True,
    on_frame: Callable[[int, int], None] = lambda done, total: None,
) -> list[str]:
    """Grade the clip ``source`` into ``destination`` (written atomically: whole or not at
    all; an existing file is kept and DestinationExistsError raised unless ``replace``), each
    frame through ``TemporalSmoothing``; audio and the other streams copied. ``threads``: cores
    for the LUT kernel. ``on_frame(done, total)`` follows each frame. Returns notes for the
    user (streams left out, a codec changed).

    Interrupted (KeyboardInterrupt), it leaves nothing, or with ``settings.keep_partial`` the
    frames graded so far as a playable ``partial_path(destination)``, which a finished run
    removes."""
    smoothing = TemporalSmoothing(look, settings.temporal_smoothing)

    def grade(frame: Frame) -> np.ndarray:
        lut = smoothing.lut_for(frame.pixels, frame.seconds)
        return lut.apply(frame.pixels, threads=threads, out=frame.pixels, device=look.device)

    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(destination)
    with atomic_write(destination, replace) as handle:
        try:
            notes = transcode(
                source,
                handle,
                destination.suffix,
                grade,
                settings.encoding,
                on_frame,
                finish_on_interrupt=settings.keep_partial,
            )
        except KeyboardInterrupt:
            if settings.keep_partial:
                handle.flush()
                publish_copy(Path(handle.name), partial)
            raise
    partial.unlink(missing_ok=True)
    return notes


def partial_path(destination: Path) -> Path:
    """Where an interrupted clip's graded frames go when asked: ``NAME.partial.EXT``."""
    return destination.with_name(f"{destination.stem}.partial{destination.suffix}")


def steady_flicker(inputs: list[np.ndarray], outputs: list[np.ndarray], still: int = 1) -> float:
    """How much a graded clip flickers: the mean change of the output from one frame to the
    next (in 8-bit levels, averaged over channels) at the pixels whose input changed by at
    most ``still`` levels in every channel; what a viewer sees as flicker on a steady shot.
    Frames are (H, W, 3) pixels of one integer type; 16-bit changes are counted in 8-bit
    levels too."""
    to_8bit = 255 / np.iinfo(inputs[0].dtype).max
    still = still / to_8bit
    changes, counts = 0.0, 0
    for index in range(1, len(inputs)):
        input_change = np.abs(inputs[index].astype(np.int32) - inputs[index - 1])
        steady = (input_change <= still).all(axis=2)
        output_change = np.abs(outputs[index].astype(np.int32) - outputs[index - 1])
        changes += float(output_change[steady].sum()) / 3 * to_8bit
        counts += int(steady.sum())
    return changes / max(1, counts)
