"""The training report: a PNG of the loss and validation curves over a sheet of validation photos.

People judge a look faster by eye than from numbers, so training can leave this picture next to
the model. Matplotlib is imported inside :func:`write_report` so that ``import lutcli`` stays
light; it draws with the Agg backend on a bare :class:`~matplotlib.figure.Figure`, without
pyplot, so no display is needed and no global figure registry keeps figures alive.
"""

from __future__ import annotations

import io
import math
import os
from typing import TYPE_CHECKING

import numpy as np

from lutcli.fileutil import atomic_write
from lutcli.io.pixels import resize_pixels
from lutcli.training.losses import psnr_from_mse

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Sizes are in inches at DPI dots per inch: the report is 1400 px wide.
DPI = 100
WIDTH = 14.0
MARGIN = 0.3
TITLE_HEIGHT = 1.0  # the title line, and the titles of the plots under it
PLOT_LEFT = 1.0  # room for the y labels of the plots
PLOT_GAP = 1.0
PLOT_HEIGHT = 2.7
PLOT_BELOW = 0.75  # x label and tick labels under the plots
SHEET_HEADER = 0.45  # the "validation photos" line and the column names
LABEL_WIDTH = 2.0  # the column of row labels: photo name and PSNR
CELL_GAP = 0.1
ROW_GAP = 0.15
MIN_ROW_HEIGHT = 1.2
MAX_ROW_HEIGHT = 3.0
MAX_ROWS = 8  # a longer list is cut: the sheet is a sample, not an inventory
NAME_LENGTH = 20
MARKER_LIMIT = 60  # longer histories are drawn as plain lines: dots would merge into a smear

COLUMNS = ("input", "lutcli output", "target")
LOSS_COLOR = "#1f77b4"
PSNR_COLOR = "#2ca02c"
BEST_COLOR = "#ff7f0e"
STAGE_COLORS = ("#dce9f5", "#fbe3cd", "#e0f0dc", "#ece0f2", "#f6f0c8")


def write_report(
    path: str | os.PathLike,
    history: list[dict[str, float]],
    rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    title: str,
) -> None:
    """Write the training report PNG to ``path``, atomically.

    ``history`` is the trainer's: one dict per validation with ``epoch`` (0 = the warm start),
    ``loss`` (NaN at epoch 0), ``validation_psnr`` (dB, may be inf) and optionally ``stage``.
    ``rows`` are validation photos as ``(name, input, output, target)``, each (H, W, 3) uint8
    RGB; only the first ``MAX_ROWS`` are drawn. ``title`` heads the report, followed by the best
    validation PSNR and its epoch when there is one.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    for row in rows:
        _check_row(row)
    rows = rows[:MAX_ROWS]
    history = sorted(history, key=lambda entry: entry["epoch"])

    cell_width = (WIDTH - MARGIN - LABEL_WIDTH - 2 * CELL_GAP) / len(COLUMNS)
    row_heights = [_row_height(images, cell_width) for _, *images in rows]
    sheet_top = TITLE_HEIGHT + PLOT_HEIGHT + PLOT_BELOW
    height = sheet_top + SHEET_HEADER + sum(h + ROW_GAP for h in row_heights) + MARGIN

    figure = Figure(figsize=(WIDTH, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    try:
        best = _best(history)
        parts = [title] if title else []
        if best is not None:
            parts.append(f"best {_db(best[1])} at epoch {best[0]}")
        heading = " · ".join(parts)
        figure.text(
            0.5, 1 - 0.38 / height, heading, ha="center", va="center", fontsize=15, weight="bold"
        )

        plot_width = (WIDTH - PLOT_LEFT - PLOT_GAP - MARGIN) / 2
        loss_axes = _add_axes(figure, height, PLOT_LEFT, TITLE_HEIGHT, plot_width, PLOT_HEIGHT)
        psnr_axes = _add_axes(
            figure,
            height,
            PLOT_LEFT + plot_width + PLOT_GAP,
            TITLE_HEIGHT,
            plot_width,
            PLOT_HEIGHT,
        )
        _plot_loss(loss_axes, history)
        _plot_psnr(psnr_axes, history, best)

        if rows:
            _draw_sheet(figure, height, rows, row_heights, sheet_top, cell_width)
        else:
            figure.text(
                MARGIN / WIDTH,
                1 - (sheet_top + SHEET_HEADER / 2) / height,
                "No validation photos.",
                va="center",
                fontsize=11,
                color="0.4",
            )

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    finally:
        figure.clear()  # break the figure's reference cycles so the photos are freed now
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())


def _check_row(row: tuple[str, np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Reject photos that are not (H, W, 3) uint8, or an output and target of different sizes."""
    name, *images = row
    for image in images:
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            raise ValueError(
                f"report photo {name!r}: expected (H, W, 3) uint8 RGB, "
                f"got {image.shape} {image.dtype}"
            )
    if images[1].shape != images[2].shape:
        raise ValueError(
            f"report photo {name!r}: output {images[1].shape} and target {images[2].shape} "
            "differ in size"
        )


def _row_height(images: list[np.ndarray], cell_width: float) -> float:
    """Inches for one sheet row: the tallest photo at the cell width, within sensible bounds."""
    aspect = max(image.shape[0] / image.shape[1] for image in images)
    return min(MAX_ROW_HEIGHT, max(MIN_ROW_HEIGHT, aspect * cell_width))


def _add_axes(
    figure: Figure, height: float, left: float, top: float, width: float, box_height: float
) -> Axes:
    """Axes placed in inches from the top-left corner, so the layout never depends on a solver."""
    return figure.add_axes(
        (left / WIDTH, 1 - (top + box_height) / height, width / WIDTH, box_height / height)
    )


def _best(history: list[dict[str, float]]) -> tuple[int, float] | None:
    """The epoch and PSNR of the first best validation (as the trainer keeps it), if any."""
    best: tuple[int, float] | None = None
    for entry in history:
        score = entry["validation_psnr"]
        if not math.isnan(score) and (best is None or score > best[1]):
            best = (int(entry["epoch"]), score)
    return best


def _db(value: float) -> str:
    return "∞ dB" if math.isinf(value) else f"{value:.1f} dB"


def _psnr(output: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of an 8-bit output against its target; inf when they are equal."""
    mse = np.mean((output.astype(np.float64) - target.astype(np.float64)) ** 2) / 255.0**2
    return psnr_from_mse(float(mse))


def _style_plot(axes: Axes, history: list[dict[str, float]], title: str, label: str) -> None:
    """What both plots share: title, labels, grid, integer epochs and the stage shading."""
    from matplotlib.ticker import MaxNLocator

    axes.set_title(title, fontsize=12, loc="left")
    axes.set_xlabel("epoch")
    axes.set_ylabel(label)
    axes.grid(True, which="major", alpha=0.35)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if history:
        first, last = history[0]["epoch"], history[-1]["epoch"]
        margin = max(0.5, 0.02 * (last - first))
        axes.set_xlim(first - margin, last + margin)
        if last - first < 10:  # too few for the locator, which would then tick fractions
            axes.set_xticks(range(int(first), int(last) + 1))


def _shade_stages(axes: Axes, history: list[dict[str, float]]) -> list[Artist]:
    """Shade each run of epochs trained in one stage and line the changes, when stages are known.

    Returns the legend handles of the stages (none when the history has no stages).
    """
    from matplotlib.patches import Patch

    runs: list[tuple[object, float, float]] = []  # stage, first epoch, last epoch
    for entry in history:
        stage, epoch = entry.get("stage"), entry["epoch"]
        if runs and runs[-1][0] == stage:
            runs[-1] = (stage, runs[-1][1], epoch)
        else:
            runs.append((stage, epoch, epoch))
    if all(stage is None for stage, _, _ in runs):
        return []
    colors: dict[object, str] = {}
    for index, (stage, first, last) in enumerate(runs):
        if index > 0:
            axes.axvline(first - 0.5, color="0.45", linestyle="--", linewidth=0.9, zorder=1)
        if stage is None:
            continue
        color = colors.setdefault(stage, STAGE_COLORS[len(colors) % len(STAGE_COLORS)])
        axes.axvspan(first - 0.5, last + 0.5, color=color, linewidth=0, zorder=0)
    return [Patch(color=color, label=f"stage: {stage}") for stage, color in colors.items()]


def _legend(axes: Axes, handles: list[Artist]) -> None:
    """A small legend where the curve is not, when there is anything to explain."""
    if handles:
        axes.legend(handles=handles, loc="best", fontsize=9, framealpha=0.9)


def _plot_loss(axes: Axes, history: list[dict[str, float]]) -> None:
    """Training loss per epoch on a log scale; the warm start (epoch 0) has none."""
    _style_plot(axes, history, "Training loss", "loss (MSE)")
    stages = _shade_stages(axes, history)
    points = [
        (entry["epoch"], entry["loss"])
        for entry in history
        if math.isfinite(entry["loss"]) and entry["loss"] > 0
    ]
    if not points:
        trained = any(entry["epoch"] > 0 for entry in history)
        _say(axes, "no positive loss to plot" if trained else "no training epochs yet")
    else:
        epochs, losses = zip(*points, strict=True)
        marker = "o" if len(history) <= MARKER_LIMIT else None
        axes.plot(epochs, losses, color=LOSS_COLOR, marker=marker, ms=3)
        axes.set_yscale("log")
        axes.grid(True, which="minor", axis="y", alpha=0.15)
    _legend(axes, stages)


def _plot_psnr(axes: Axes, history: list[dict[str, float]], best: tuple[int, float] | None) -> None:
    """Validation PSNR per epoch with the best epoch starred.

    An exact match (inf dB) has no place on a dB axis, so it is drawn as a triangle above every
    finite score, off the line; when every score is inf, the plot says so instead.
    """
    _style_plot(axes, history, "Validation PSNR", "PSNR (dB)")
    _shade_stages(axes, history)  # the loss plot's legend names the stages
    handles: list[Artist] = []
    scores = [(entry["epoch"], entry["validation_psnr"]) for entry in history]
    scores = [(epoch, score) for epoch, score in scores if not math.isnan(score)]
    finite = [score for _, score in scores if math.isfinite(score)]
    if not finite:
        _say(axes, "every validation is exact (∞ dB)" if scores else "no validation yet")
        _legend(axes, handles)
        return
    low, top = min(finite), max(finite)
    pad = max(0.5, 0.08 * (top - low))
    ceiling = top + 0.6 * pad  # where exact matches sit: above every finite score
    marker = "o" if len(history) <= MARKER_LIMIT else None
    # inf becomes NaN here, which breaks the line: an exact match is not a point on the dB scale.
    epochs = [epoch for epoch, _ in scores]
    values = [score if math.isfinite(score) else math.nan for _, score in scores]
    axes.plot(epochs, values, color=PSNR_COLOR, marker=marker, ms=3)
    exact = [epoch for epoch, score in scores if math.isinf(score)]
    if exact:
        (line,) = axes.plot(exact, [ceiling] * len(exact), "^", color=PSNR_COLOR, ms=8)
        line.set_label("exact (∞ dB)")
        handles.append(line)
    if best is not None:
        (star,) = axes.plot(
            best[0],
            ceiling if math.isinf(best[1]) else best[1],
            "*",
            color=BEST_COLOR,
            markeredgecolor="black",
            markeredgewidth=0.6,
            ms=15,
            zorder=5,
            clip_on=False,
            label=f"best: {_db(best[1])} at epoch {best[0]}",
        )
        handles.append(star)
    axes.set_ylim(low - pad, top + pad)
    _legend(axes, handles)


def _say(axes: Axes, message: str) -> None:
    """A note in the middle of a plot that has nothing to draw."""
    axes.text(0.5, 0.5, message, transform=axes.transAxes, ha="center", va="center", color="0.4")
    axes.set_yticks([])


def _draw_sheet(
    figure: Figure,
    height: float,
    rows: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    row_heights: list[float],
    top: float,
    cell_width: float,
) -> None:
    """One row per photo: its name and PSNR, then the input, lutcli output and target."""
    figure.text(
        MARGIN / WIDTH,
        1 - (top + SHEET_HEADER / 2) / height,
        "Validation photos",
        va="center",
        fontsize=12,
    )
    for index, name in enumerate(COLUMNS):
        center = LABEL_WIDTH + index * (cell_width + CELL_GAP) + cell_width / 2
        figure.text(
            center / WIDTH,
            1 - (top + SHEET_HEADER / 2) / height,
            name,
            ha="center",
            va="center",
            fontsize=12,
            weight="bold" if index == 1 else "normal",
        )
    y = top + SHEET_HEADER
    for (name, *images), row_height in zip(rows, row_heights, strict=True):
        middle = 1 - (y + row_height / 2) / height
        label_right = (LABEL_WIDTH - 0.15) / WIDTH
        figure.text(label_right, middle, _short(name), ha="right", va="bottom", fontsize=11)
        figure.text(
            label_right,
            middle,
            f"PSNR {_db(_psnr(images[1], images[2]))}",
            ha="right",
            va="top",
            fontsize=10,
            color="0.3",
        )
        for index, image in enumerate(images):
            left = LABEL_WIDTH + index * (cell_width + CELL_GAP)
            axes = _add_axes(figure, height, left, y, cell_width, row_height)
            axes.imshow(_thumbnail(image, cell_width, row_height), interpolation="antialiased")
            axes.set_axis_off()
        y += row_height + ROW_GAP


def _short(name: str) -> str:
    """A photo name cut in the middle to fit the label column."""
    if len(name) <= NAME_LENGTH:
        return name
    keep = NAME_LENGTH - 1
    return name[: (keep + 1) // 2] + "…" + name[-(keep // 2) :]


def _thumbnail(image: np.ndarray, width: float, height: float) -> np.ndarray:
    """The photo shrunk (never enlarged) to fit a cell of ``width`` x ``height`` inches.

    Shrinking to the drawn size keeps the photos sharp and the PNG small.
    """
    scale = min(width * DPI / image.shape[1], height * DPI / image.shape[0], 1.0)
    if scale >= 1.0:
        return image
    size = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
    return resize_pixels(image, size)
