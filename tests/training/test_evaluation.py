"""Evaluation on held-out pairs: the PSNR of what ``apply`` would write, per pair."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from lutcli.errors import DatasetError
from lutcli.models.basic import BasicLookupModel
from lutcli.training.evaluation import evaluate


def write_pair(folder: Path, name: str, source: np.ndarray, target: np.ndarray) -> None:
    for side, pixels in (("input", source), ("target", target)):
        (folder / side).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / side / f"{name}.png"), pixels)


def test_the_score_is_the_psnr_of_the_8_bit_output(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    source = rng.integers(0, 250, size=(24, 32, 3), dtype=np.uint8)
    write_pair(tmp_path, "same", source, source)
    write_pair(tmp_path, "brighter", source, source + 5)  # five levels off everywhere
    scores = evaluate(BasicLookupModel(9), tmp_path)  # the identity
    assert scores["same"] == math.inf
    assert scores["brighter"] == pytest.approx(20 * math.log10(255 / 5))


def test_the_output_is_rounded_like_a_written_file(tmp_path: Path) -> None:
    source = np.full((8, 8, 3), 100, dtype=np.uint8)
    write_pair(tmp_path, "a", source, source + 1)
    model = BasicLookupModel(9)
    with torch.no_grad():
        model.lut += 0.6 / 255  # 100.6 levels: written as 101
    assert evaluate(model, tmp_path)["a"] == math.inf


def test_16_bit_targets_are_compared_on_the_same_scale(tmp_path: Path) -> None:
    source = np.full((8, 8, 3), 128, dtype=np.uint8)
    write_pair(tmp_path, "a", source, source.astype(np.uint16) * 257)
    assert evaluate(BasicLookupModel(9), tmp_path)["a"] == math.inf


def test_pairs_of_different_sizes_are_refused(tmp_path: Path) -> None:
    write_pair(tmp_path, "a", np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(DatasetError, match="equal size"):
        evaluate(BasicLookupModel(9), tmp_path)
