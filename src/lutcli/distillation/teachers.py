"""Teachers: whatever turns a picture into the look to learn ("the model to be learned").

``parse_teacher`` reads the ``--teacher`` spec:

- ``cmd:TEMPLATE``: an external command, run without a shell, once per picture, with
  ``{input}`` and ``{output}`` replaced by file paths (the output is a PNG the command writes);
- a LUT file of any format lutcli reads (``.cube``, Hald CLUT image, ``.3dl``, ...);
- a lutcli model file (loaded as data only, never running code from it);
- a TorchScript file (``torch.jit.save``): a module mapping (1, 3, H, W) RGB in [0, 1] to the
  same shape. Loading TorchScript runs its code, like a command does: use teachers you trust.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import signal
import subprocess
import tempfile
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import torch

from lutcli.errors import ImageReadError, LutcliError
from lutcli.fileutil import file_digest
from lutcli.io.images import read_image
from lutcli.io.pixels import from_tensor, to_tensor
from lutcli.lut.formats import format_for_path

COMMAND_PREFIX = "cmd:"
PLACEHOLDERS = ("{input}", "{output}")
# Teachers that compute in floating point give 16-bit ground truth: finer than any 8-bit file.
FLOAT_TEACHER_DTYPE = np.uint16


class TeacherError(LutcliError):
    """A teacher that cannot be used, or that failed on one picture (the message names it)."""


class Teacher(ABC):
    """Makes the ground truth of one picture file: (H, W, 3) uint8 or uint16 RGB pixels."""

    kind: str

    def __init__(self, spec: str, identity: str) -> None:
        self.spec = spec
        # What the teacher's outputs depend on: ground truth cached under it is reused.
        self.identity = hashlib.sha256(f"{self.kind}\0{identity}".encode()).hexdigest()

    @abstractmethod
    def teach(self, source: Path) -> np.ndarray:
        """The teacher's output for the picture file ``source`` (same size as the picture)."""


class _TensorTeacher(Teacher):
    """A teacher that maps pictures as tensors: read, map, round to 16 bits."""

    def teach(self, source: Path) -> np.ndarray:
        pixels = read_image(source).pixels
        with torch.no_grad():
            output = self.map(to_tensor(pixels))
        if output.shape != (1, 3, *pixels.shape[:2]):
            raise TeacherError(
                f"teacher '{self.spec}' gave {tuple(output.shape)} for '{source}', "
                f"expected {(1, 3, *pixels.shape[:2])}"
            )
        return from_tensor(output.float(), FLOAT_TEACHER_DTYPE)

    @abstractmethod
    def map(self, image: torch.Tensor) -> torch.Tensor:
        """(1, 3, H, W) float RGB in [0, 1] → the same shape."""


class ModelTeacher(_TensorTeacher):
    """A lutcli model file; adaptive models see each whole picture, as ``apply`` runs them."""

    kind = "lutcli model"

    def __init__(self, path: Path) -> None:
        from lutcli.models.files import load_model

        super().__init__(str(path), file_digest(path))
        self.model, _ = load_model(path)
        self.model.eval()

    def map(self, image: torch.Tensor) -> torch.Tensor:
        return self.model(image, context=image)


class LutTeacher(_TensorTeacher):
    """A LUT file of any format (``lutcli.lut.formats``)."""

    kind = "LUT file"

    def __init__(self, path: Path) -> None:
        from lutcli.lut.formats import read_lut

        super().__init__(str(path), file_digest(path))
        self.lut = read_lut(path).lut

    def map(self, image: torch.Tensor) -> torch.Tensor:
        return self.lut.apply(image)


class TorchScriptTeacher(_TensorTeacher):
    """A TorchScript module file, run on the CPU."""

    kind = "TorchScript"

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), file_digest(path))
        try:
            self.module = torch.jit.load(str(path), map_location="cpu").eval()
        except (RuntimeError, ValueError) as error:
            raise TeacherError(
                f"cannot load TorchScript teacher '{path}': {_first_line(error)}"
            ) from None

    def map(self, image: torch.Tensor) -> torch.Tensor:
        try:
            output = self.module(image)
        except Exception as error:  # the module's own code: any failure is the teacher's
            raise TeacherError(
                f"TorchScript teacher '{self.spec}' failed: {_first_line(error)}"
            ) from None
        if not isinstance(output, torch.Tensor):
            raise TeacherError(f"TorchScript teacher '{self.spec}' did not return a tensor")
        return output


class CommandTeacher(Teacher):
    """An external command, run once per picture without a shell and with a time limit."""

    kind = "command"

    def __init__(self, template: str, timeout: float) -> None:
        try:
            self.arguments = shlex.split(template)
        except ValueError as error:
            raise TeacherError(f"cannot parse the teacher command: {error}") from None
        missing = [p for p in PLACEHOLDERS if not any(p in a for a in self.arguments)]
        if not self.arguments or missing:
            raise TeacherError(
                f"the teacher command must contain {' and '.join(PLACEHOLDERS)}; "
                f"missing {', '.join(missing) or 'a program'}"
            )
        super().__init__(COMMAND_PREFIX + template, template)
        self.timeout = timeout

    def teach(self, source: Path) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="lutcli-teacher-") as folder:
            output = Path(folder) / "output.png"
            command = [
                a.replace("{input}", os.fspath(source)).replace("{output}", os.fspath(output))
                for a in self.arguments
            ]
            name = f"the teacher command on '{source}'"
            returncode, stderr = self._run(command, name)
            if returncode != 0:
                lines = stderr.strip().splitlines()
                detail = f": {lines[-1]}" if lines else ""
                raise TeacherError(f"{name} failed (exit {returncode}){detail}")
            if not output.is_file():
                raise TeacherError(f"{name} wrote nothing to {{output}}")
            try:
                return read_image(output).pixels
            except ImageReadError:  # its message names our temporary file, gone by now
                raise TeacherError(
                    f"{name} wrote a file that is not a readable image to {{output}}"
                ) from None

    def _run(self, command: list[str], name: str) -> tuple[int, str]:
        """Run ``command`` (no shell) in a session of its own, so that on a timeout the whole
        session goes, the programs it started included; (exit status, stderr)."""
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except FileNotFoundError:
            raise TeacherError(f"teacher command not found: {command[0]}") from None
        except PermissionError:
            raise TeacherError(f"teacher command cannot be run: {command[0]}") from None
        try:
            _, stderr = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_session(process)
            raise TeacherError(f"{name} did not finish in {self.timeout:g} s") from None
        except BaseException:  # interrupted: leave nothing running behind
            _kill_session(process)
            raise
        return process.returncode, stderr


def _kill_session(process: subprocess.Popen) -> None:
    """Kill a command and every program it started (its session), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def parse_teacher(spec: str, timeout: float = 60.0) -> Teacher:
    """The teacher that ``spec`` names (see the module docstring)."""
    if spec.startswith(COMMAND_PREFIX):
        return CommandTeacher(spec[len(COMMAND_PREFIX) :], timeout)
    path = Path(spec)
    if not path.is_file():
        raise TeacherError(
            f"no teacher file at '{spec}' (a command teacher starts with '{COMMAND_PREFIX}')"
        )
    if format_for_path(path) is not None:  # a LUT file's extension
        return LutTeacher(path)
    if _is_torchscript(path):
        return TorchScriptTeacher(path)
    return ModelTeacher(path)


def _is_torchscript(path: Path) -> bool:
    """Whether ``path`` is a TorchScript archive: a zip that holds compiled code."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _first_line(error: Exception) -> str:
    """An exception's message, first line only (the CLI prints one line per error)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
