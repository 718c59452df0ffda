"""Helpers of the command-line tests: images made in code, a model with a known look, and
checks of what a run left on disk and printed."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from click.testing import Result

from lutcli.lut.lattice import identity_lut
from lutcli.models.base import LutModel
from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import save_model
from lutcli.models.registry import create_model
from zoo_support import perturb

# The installed console script, beside the interpreter running the tests.
LUTCLI = Path(sys.executable).parent / "lutcli"


def warm_lut(size: int, crosstalk: float = 0.0) -> torch.Tensor:
    """A non-identity LUT (3, D, D, D) in [0, 1]: a warm curve (red lifted, blue lowered), and
    with ``crosstalk`` each channel mixed with the next one (a hue shift)."""
    lattice = identity_lut(size)
    red, green, blue = lattice
    curved = torch.stack([red**0.8, green * (1.05 - 0.1 * green), blue**1.25])
    if crosstalk:
        curved = (1 - crosstalk) * curved + crosstalk * curved.roll(-1, dims=0)
    return curved.clamp(0, 1).contiguous()


def save_warm_model(path: Path, size: int = 17, crosstalk: float = 0.0) -> BasicLookupModel:
    """A basic model whose LUT is ``warm_lut``, as `lutcli train` would have saved it."""
    model = BasicLookupModel(size)
    with torch.no_grad():
        model.lut.copy_(warm_lut(size, crosstalk))
    save_model(path, model, {"note": "made by the tests"})
    return model


def save_adaptive_model(path: Path, name: str, size: int = 9) -> LutModel:
    """A zoo model a little away from its start (as if trained a bit), so that it changes
    colors and gives each photo its own LUT; saved as `lutcli train` would."""
    torch.manual_seed(0)
    model = perturb(create_model(name, lut_size=size))
    save_model(path, model)
    return model


def noise(height: int, width: int, channels: int = 3, dtype=np.uint8, seed: int = 0):
    """Random pixels over the whole range of ``dtype`` (every kind of color)."""
    top = np.iinfo(dtype).max
    values = np.random.default_rng(seed).integers(0, top, (height, width, channels), endpoint=True)
    return values.astype(dtype)


def gradient(height: int = 32, width: int = 48, seed: int = 0) -> np.ndarray:
    """A smooth (H, W, 3) uint8 picture (lossy formats keep it well)."""
    rows = np.linspace(0, 1, height)[:, None]
    columns = np.linspace(0, 1, width)[None, :]
    phase = np.random.default_rng(seed).uniform(0, 1, 3)
    channels = [
        0.5 + 0.45 * np.sin(2.5 * columns + 3 * rows + 6 * phase[0]),
        0.2 + 0.7 * rows * columns + 0.1 * phase[1],
        0.5 + 0.4 * np.cos(2 * rows - columns + 6 * phase[2]),
    ]
    return (np.stack(np.broadcast_arrays(*channels), axis=-1) * 255).round().astype(np.uint8)


def write_picture(path: Path, rgb: np.ndarray, alpha: np.ndarray | None = None) -> Path:
    """Write RGB (and alpha) pixels with OpenCV, independent of lutcli's writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if alpha is not None:
        bgr = np.dstack([bgr, alpha])
    assert cv2.imwrite(str(path), bgr), path
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def temp_files(folder: Path) -> list[Path]:
    """Temporary files of atomic writes left under ``folder``."""
    return sorted(folder.rglob("*lutcli-tmp*"))


def assert_one_error_line(result: Result, *fragments: str) -> str:
    """A failed run: exit status != 0, no traceback, exactly one line on stderr, naming
    ``fragments``. Returns that line."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
