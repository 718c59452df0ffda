"""Helpers of the command-line tests: images made in code, a model with a known look, and
checks of what a run left on disk and printed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from click.testing import Result

from lutcli.io.images import read_image
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


def start_lutcli(*args: object, **popen: object) -> subprocess.Popen:
    """Start the installed ``lutcli ARGS`` as a terminal would: signals at their defaults (a
    test run started in the background has SIGINT ignored, which children inherit), stdout and
    stderr captured as text."""

    def default_signals() -> None:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)

    return subprocess.Popen(
        [str(LUTCLI), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=popen.pop("preexec_fn", default_signals),
        **popen,
    )


# The lines of /proc/PID/status that give a process's caught and ignored signals (bit n-1: n).
MASK_FIELDS = ("SigCgt:", "SigIgn:")


def wait_for_lutcli_code(process: subprocess.Popen, timeout: float = 30) -> None:
    """Wait until ``process`` runs lutcli's own code: it handles SIGTERM and SIGHUP, which
    Python leaves at their defaults (a signal ignored from the start stays ignored). Before that
    the interpreter is starting, and Python's defaults apply. lutcli takes the signals one after
    the other, so both are awaited: one sent between the two would meet Python's default."""
    deadline = time.monotonic() + timeout
    while True:
        status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
        masks = {line[:7]: int(line[7:], 16) for line in status if line[:7] in MASK_FIELDS}
        awaited = {signal.SIGTERM, signal.SIGHUP}
        if all(masks["SigCgt:"] >> (n - 1) & 1 or masks["SigIgn:"] >> (n - 1) & 1 for n in awaited):
            return
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "lutcli never took over its signals"
        time.sleep(0.001)


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """Wait for ``process``; its (stdout, stderr). Kills it if it does not end in time."""
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def is_running(pid: int) -> bool:
    """Whether the process ``pid`` exists and has not ended (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def assert_whole_images(folder: Path, shape: tuple[int, ...]) -> list[Path]:
    """Every file in ``folder`` is a whole image of ``shape``, and no temporary file is left;
    returns the images."""
    assert not temp_files(folder)
    written = sorted(folder.iterdir()) if folder.is_dir() else []
    for path in written:
        assert read_image(path).pixels.shape == shape, path  # raises for a truncated file
    return written
