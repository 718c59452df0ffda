"""Measuring a model on held-out pairs, on the pixels ``lutcli apply`` would write."""

from __future__ import annotations

import os

import numpy as np
import torch

from lutcli.errors import DatasetError
from lutcli.io.images import read_image
from lutcli.looks import ModelLook
from lutcli.models.base import LutModel
from lutcli.training.data import find_pairs
from lutcli.training.losses import psnr_from_mse


def evaluate(
    model: LutModel,
    folder: str | os.PathLike,
    device: torch.device | None = None,
    interp: str = "trilinear",
) -> dict[str, float]:
    """PSNR in dB of the model's output against the target, for every pair of ``folder``
    (``input/`` and ``target/``, as for training); outputs are rounded to the input's bit
    depth first, as in the files ``apply`` writes."""
    look = ModelLook(model, interp, device or torch.device("cpu"))
    scores = {}
    for pair in find_pairs(folder):
        source = read_image(pair.input_path).pixels[..., :3]
        target = read_image(pair.target_path).pixels[..., :3]
        if source.shape != target.shape:
            raise DatasetError(
                f"'{pair.target_path}' is {target.shape[1]}x{target.shape[0]}, its input "
                f"{source.shape[1]}x{source.shape[0]}: evaluation needs pairs of equal size"
            )
        output = look.apply(source)
        scores[pair.name] = psnr_from_mse(float(np.mean((_unit(output) - _unit(target)) ** 2)))
    return scores


def _unit(pixels: np.ndarray) -> np.ndarray:
    """Integer pixels as float64 in [0, 1]."""
    return pixels.astype(np.float64) / np.iinfo(pixels.dtype).max
