"""What the tests of LUT file formats share: colors to compare on, and those colors through
lutcli and through OpenColorIO."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio
import torch

from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut


def sample_colors(
    low: float = -0.2, high: float = 1.2, grid: int = 16, count: int = 4096, seed: int = 1
) -> np.ndarray:
    """(P, 3) float32 colors over low..high: a ``grid``³ lattice, and ``count`` random ones."""
    axis = np.linspace(low, high, grid)
    lattice = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    scattered = np.random.default_rng(seed).uniform(low, high, (count, 3))
    return np.concatenate([lattice, scattered]).astype(np.float32)


def through_lutcli(lut: Lut, colors: np.ndarray) -> np.ndarray:
    """(P, 3) colors through ``lut``, in float64."""
    image = torch.from_numpy(np.ascontiguousarray(colors.T, dtype=np.float64))[None, :, :, None]
    return lut.apply(image)[0, :, :, 0].T.numpy()


def through_ocio(path: Path, colors: np.ndarray) -> np.ndarray:
    """(P, 3) float32 colors through the file at ``path`` as OpenColorIO applies it (linear
    interpolation, on the CPU)."""
    transform = ocio.FileTransform(src=str(path), interpolation=ocio.INTERP_LINEAR)
    processor = ocio.Config.CreateRaw().getProcessor(transform).getDefaultCPUProcessor()
    result = colors.astype(np.float32)  # a copy: applyRGB works in place
    processor.applyRGB(result)
    return result


def write_text(tmp_path: Path, name: str, text: str) -> Path:
    """A text file ``name`` in ``tmp_path`` holding ``text``."""
    path = tmp_path / name
    path.write_text(text)
    return path


def random_table(size: int, seed: int = 0) -> np.ndarray:
    """A (3, D, D, D) table: identity plus noise."""
    rng = np.random.default_rng(seed)
    return identity_lut(size).numpy() + 0.05 * rng.standard_normal((3, size, size, size))
