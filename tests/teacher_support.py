"""Helpers of the distillation tests (``pythonpath`` in pyproject.toml puts tests/ on the import
path): command teachers as small Python scripts whose behaviour the test chooses, and looks
as .cube files and lutcli models."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from lutcli.lut.formats.cube import write_cube
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut3D, LutFile
from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import save_model

# What a teacher script does with the picture ``source`` and the file ``output`` it is given.
INVERT = """
pixels = cv2.imread(source, cv2.IMREAD_UNCHANGED)
cv2.imwrite(output, np.iinfo(pixels.dtype).max - pixels)
"""
FAIL = """
sys.stderr.write("loading the look\\nteacher: this picture is cursed\\n")
sys.exit(3)
"""
HANG = """
time.sleep(10)
"""
# Starts a helper program, says so in running.txt (its own PID and the helper's), then waits a
# minute: a teacher still at work.
STALL = """
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
running = f"{os.getpid()} {helper.pid}"
Path(__file__).with_name("running.txt.tmp").write_text(running)
Path(__file__).with_name("running.txt.tmp").rename(Path(__file__).with_name("running.txt"))
time.sleep(60)
"""
# Writes bytes that are no image.
GARBAGE = """
Path(output).write_bytes(b"\\x89PNG not really" + bytes(range(256)))
"""
WRITE_NOTHING = """
pass
"""
WRONG_SIZE = """
cv2.imwrite(output, cv2.imread(source)[:-2, :-1])
"""
SAVE_ARGUMENTS = """
Path(__file__).with_name("arguments.json").write_text(json.dumps(sys.argv[1:]))
cv2.imwrite(output, cv2.imread(source))
"""
# Inverts, except pictures whose name holds "bad": those fail.
FAIL_ON_BAD = """
if "bad" in Path(source).name:
    sys.exit("teacher: cannot handle " + Path(source).name)
pixels = cv2.imread(source, cv2.IMREAD_UNCHANGED)
cv2.imwrite(output, np.iinfo(pixels.dtype).max - pixels)
"""

_PREAMBLE = """\
import json, os, subprocess, sys, time
from pathlib import Path
import cv2
import numpy as np
source, output = sys.argv[1], sys.argv[2]
with open(Path(__file__).with_name("calls.txt"), "a") as calls:
    calls.write(source + "\\n")
"""


@dataclass
class ScriptTeacher:
    """A teacher script in its own folder, which also holds the log of its runs."""

    folder: Path
    spec: str  # the --teacher spec: cmd:PYTHON SCRIPT {input} {output}

    @property
    def calls(self) -> list[str]:
        """The pictures it was run on, in order."""
        log = self.folder / "calls.txt"
        return log.read_text().splitlines() if log.is_file() else []


def script_teacher(folder: Path, body: str, extra: str = "") -> ScriptTeacher:
    """A command teacher running ``body`` (see INVERT, FAIL, ...) in a script in ``folder``;
    ``extra`` is appended to its command line after ``{input} {output}``."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "teacher.py"
    script.write_text(_PREAMBLE + body)
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {{input}} {{output}}"
    return ScriptTeacher(folder, f"cmd:{command} {extra}".rstrip())


def write_picture(path: Path, rgb: np.ndarray) -> Path:
    """Write (H, W, 3) RGB pixels with OpenCV, independent of lutcli's writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), path
    return path


def noise(height: int, width: int, seed: int = 0, low: int = 0, high: int = 255) -> np.ndarray:
    """Random (H, W, 3) uint8 pixels, each channel in low..high."""
    generator = np.random.default_rng(seed)
    return generator.integers(low, high, (height, width, 3), endpoint=True).astype(np.uint8)


def gamma_lut(size: int, gammas: tuple[float, float, float] = (0.8, 1.2, 2.0)) -> torch.Tensor:
    """A (3, D, D, D) look that curves each channel with its own gamma."""
    lattice = identity_lut(size)
    return torch.stack([lattice[c] ** gammas[c] for c in range(3)]).contiguous()


def write_look_cube(path: Path, size: int = 9, gammas=(0.8, 1.2, 2.0)) -> LutFile:
    """A .cube file of ``gamma_lut``; returns what it holds."""
    cube = LutFile(Lut3D(gamma_lut(size, gammas).numpy()), title="test look")
    write_cube(cube, path)
    return cube


def save_look_model(path: Path, size: int = 9) -> BasicLookupModel:
    """A basic model of ``gamma_lut``, saved as `lutcli train` would."""
    model = BasicLookupModel(size)
    with torch.no_grad():
        model.lut.copy_(gamma_lut(size))
    save_model(path, model, {"note": "made by the tests"})
    return model.eval()
