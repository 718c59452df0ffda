"""The training report PNG: written whole, the promised width, really drawn, and robust to the
histories and photo lists that short or perfect trainings produce."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from lutcli.training import report
from lutcli.training.report import DPI, WIDTH, _best, _psnr, write_report

NAN = math.nan
INF = math.inf


def photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(height, width, 3) uint8: smooth color regions, like a small photo."""
    regions = cv2.resize(rng.random((3, 4, 3)), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.round(np.clip(regions, 0, 1) * 255).astype(np.uint8)


def photo_row(rng: np.random.Generator, name: str, height: int = 60, width: int = 90):
    """A validation row whose output is its target with a little noise."""
    target = photo(rng, height, width)
    noise = rng.integers(-3, 4, target.shape)
    output = np.clip(target.astype(int) + noise, 0, 255).astype(np.uint8)
    return name, photo(rng, height, width), output, target


def training_history(epochs: int = 12, stages: bool = False) -> list[dict]:
    """Epoch 0 is the warm start (no loss); PSNR rises, the loss falls."""
    history = []
    for epoch in range(epochs + 1):
        entry = {
            "epoch": epoch,
            "loss": NAN if epoch == 0 else 0.01 * math.exp(-epoch / 4),
            "validation_psnr": 30 + 10 * (1 - math.exp(-epoch / 3)),
        }
        if stages:
            entry["stage"] = "derived" if epoch <= epochs // 2 else "all"
        history.append(entry)
    return history


def read_png(path: Path) -> np.ndarray:
    """The report as (H, W, 3) uint8 RGB, read by OpenCV; Pillow must agree that it is a PNG."""
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] == round(WIDTH * DPI)
    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert pixels is not None
    return pixels[..., ::-1]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_writes_a_drawn_png_1400_px_wide_and_nothing_else(tmp_path, rng):
    path = tmp_path / "look.report.png"
    rows = [photo_row(rng, f"photo{i}.jpg") for i in range(3)]
    write_report(path, training_history(), rows, "look.pt · basic")

    pixels = read_png(path)
    assert pixels.shape[1] == 1400
    assert pixels.std() > 20  # curves, text and photos, not a blank page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["look.report.png"]


def test_the_photos_are_on_the_sheet_in_their_colors(tmp_path):
    # Flat red input, green output and blue target: each color fills a good part of the sheet,
    # in RGB order (a BGR mix-up would swap red and blue).
    size = (80, 120, 3)
    red, green, blue = (np.zeros(size, np.uint8) for _ in range(3))
    red[..., 0], green[..., 1], blue[..., 2] = 255, 255, 255
    path = tmp_path / "report.png"
    write_report(path, training_history(), [("flat.png", red, green, blue)], "flat")

    pixels = read_png(path).astype(int)
    for channel in range(3):
        pure = np.all(np.abs(pixels - 255 * np.eye(3, dtype=int)[channel]) <= 2, axis=-1)
        assert pure.sum() > 100 * 60, f"too few pixels of pure channel {channel}"


def test_each_photo_adds_a_row(tmp_path, rng):
    heights = []
    for count in (0, 1, 3):
        path = tmp_path / f"report{count}.png"
        write_report(path, training_history(), [photo_row(rng, "p") for _ in range(count)], "t")
        heights.append(read_png(path).shape[0])
    assert heights[0] < heights[1] < heights[2]


def test_long_photo_lists_are_cut(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(report, "MAX_ROWS", 2)
    sizes = []
    for count in (2, 4):
        path = tmp_path / f"report{count}.png"
        write_report(path, [], [photo_row(rng, "p") for _ in range(count)], "t")
        sizes.append(read_png(path).shape)
    assert sizes[0] == sizes[1]


@pytest.mark.parametrize(
    "history",
    [
        pytest.param([], id="no history"),
        pytest.param([{"epoch": 0, "loss": NAN, "validation_psnr": 31.5}], id="warm start only"),
        pytest.param([{"epoch": 0, "loss": NAN, "validation_psnr": INF}], id="exact warm start"),
        pytest.param(
            [
                {"epoch": e, "loss": NAN if e == 0 else 0.0, "validation_psnr": INF}
                for e in range(3)
            ],
            id="always exact, zero loss",
        ),
        pytest.param(
            [
                {"epoch": 0, "loss": NAN, "validation_psnr": 35.0},
                {"epoch": 1, "loss": 1e-3, "validation_psnr": INF},
                {"epoch": 2, "loss": 5e-4, "validation_psnr": 40.0},
            ],
            id="one exact epoch",
        ),
        pytest.param(training_history(stages=True), id="stages"),
        pytest.param(
            [{**entry, "stage": "all"} for entry in training_history(epochs=200)[1:]],
            id="long history, one stage, no warm start",
        ),
        pytest.param(
            [{"epoch": 0, "loss": NAN, "validation_psnr": 30.0}]
            + [{**e, "stage": "all"} for e in training_history()[1:]],
            id="warm start without a stage",
        ),
    ],
)
def test_unusual_histories_still_make_a_report(tmp_path, rng, history):
    path = tmp_path / "report.png"
    write_report(path, history, [photo_row(rng, "only.jpg")], "look.pt · basic")
    assert read_png(path).std() > 20
    assert [p.name for p in tmp_path.iterdir()] == ["report.png"]


def test_unusual_photos_still_make_a_report(tmp_path, rng):
    same = photo(rng, 40, 40)
    rows = [
        ("a-very-long-photo-name-from-a-camera-roll-0001.jpg", *photo_row(rng, "")[1:]),
        ("portrait.jpg", *photo_row(rng, "", height=150, width=50)[1:]),
        ("panorama.jpg", *photo_row(rng, "", height=20, width=400)[1:]),
        ("exact.png", same, same, same.copy()),  # inf PSNR
        ("tiny.png", *photo_row(rng, "", height=1, width=1)[1:]),
    ]
    path = tmp_path / "report.png"
    write_report(path, [], rows, "")
    assert read_png(path).std() > 20


def test_replaces_an_old_report(tmp_path, rng):
    path = tmp_path / "report.png"
    path.write_bytes(b"old")
    write_report(str(path), training_history(), [photo_row(rng, "p")], "t")
    assert read_png(path).shape[1] == 1400
    assert [p.name for p in tmp_path.iterdir()] == ["report.png"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(np.zeros((8, 8, 3), np.float32), id="float"),
        pytest.param(np.zeros((8, 8), np.uint8), id="gray"),
        pytest.param(np.zeros((8, 8, 4), np.uint8), id="rgba"),
    ],
)
def test_photos_that_are_not_8_bit_rgb_are_refused_and_nothing_is_written(tmp_path, bad):
    good = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8 RGB"):
        write_report(tmp_path / "report.png", [], [("bad", good, bad, good)], "t")
    assert list(tmp_path.iterdir()) == []


def test_an_output_and_target_of_different_sizes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="differ in size"):
        write_report(
            tmp_path / "report.png",
            [],
            [("p", *(np.zeros((8, w, 3), np.uint8) for w in (8, 8, 9)))],
            "t",
        )
    assert list(tmp_path.iterdir()) == []


def test_the_best_epoch_is_the_first_highest_score_as_the_trainer_keeps_it():
    def history(*scores: float) -> list[dict]:
        return [{"epoch": e, "loss": NAN, "validation_psnr": s} for e, s in enumerate(scores)]

    assert _best([]) is None
    assert _best(history(NAN)) is None
    assert _best(history(30.0, 35.0, 35.0, 33.0)) == (1, 35.0)
    assert _best(history(30.0, INF, 40.0, INF)) == (1, INF)


def test_photo_psnr_matches_scikit_image(rng):
    _, _, output, target = photo_row(rng, "p")
    expected = peak_signal_noise_ratio(target, output, data_range=255)
    assert _psnr(output, target) == pytest.approx(expected, abs=1e-6)
    assert _psnr(target, target) == INF


def test_importing_the_report_module_leaves_matplotlib_unloaded():
    # Matplotlib is imported by write_report only: importing lutcli stays light.
    code = "import sys, lutcli.training.report; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
