"""The machine a benchmark ran on, in one line, for the tables and JSON it writes."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from lutcli.kernels import cpu


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
