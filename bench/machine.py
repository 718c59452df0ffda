"""The machine a benchmark runs on: described in one line for the tables and JSON it writes,
and the lutcli program it runs, prepared as an install leaves it."""

from __future__ import annotations

import compileall
import platform
import sys
from pathlib import Path

import torch

import lutcli
from lutcli.kernels import cpu

# The lutcli program beside this Python (the venv's).
LUTCLI = Path(sys.executable).parent / "lutcli"


def compile_lutcli() -> None:
    """Write the bytecode of lutcli's modules, as pip does when it installs the wheel: an
    editable checkout run with PYTHONDONTWRITEBYTECODE set would otherwise compile them at every
    start of LUTCLI (about 35 ms)."""
    compileall.compile_dir(Path(lutcli.__file__).parent, quiet=1)


def describe() -> str:
    """The CPU's model name, the cores lutcli uses, the SIMD level its kernels run, torch and
    Python versions."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        model = names[0] if names else model
    versions = f"torch {torch.__version__}, Python {platform.python_version()}"
    level = cpu.simd_level()
    simd = f"kernels at {level}" if level else "kernels not built"
    return f"{model}, {cpu.cpu_count()} cores, {simd}, {versions}"
