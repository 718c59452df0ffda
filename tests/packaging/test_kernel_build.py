"""Building the CPU kernels (setup.py): optional for users, required in CI.

A user without a C compiler still gets a working lutcli (the torch reference path); in CI
(CI=true) or with LUTCLI_REQUIRE_KERNELS=1 the same failed build fails the install, so that the
tests never run without the compiled kernels unnoticed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build_kernels(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """setup.py's build_ext into tmp_path with ``false`` as the C compiler (it always fails)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "LUTCLI_REQUIRE_KERNELS")}
    env.update(CC="false", **variables)
    command = [sys.executable, "setup.py", "-q", "build_ext"]
    command += ["-b", str(tmp_path / "lib"), "-t", str(tmp_path / "temp")]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def test_without_a_compiler_a_user_install_goes_on_without_the_kernels(tmp_path):
    result = build_kernels(tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'building extension "lutcli.kernels._native" failed' in result.stderr
    assert not list(tmp_path.rglob("_native*.so"))


@pytest.mark.parametrize("variable", [{"CI": "true"}, {"LUTCLI_REQUIRE_KERNELS": "1"}])
def test_in_ci_a_failed_kernel_build_fails_the_install(tmp_path, variable):
    result = build_kernels(tmp_path, **variable)
    assert result.returncode != 0
    assert "lutcli's CPU kernels (src/lutcli/kernels/native.c) failed to build" in result.stderr
    assert "CI=true or LUTCLI_REQUIRE_KERNELS=1 requires them" in result.stderr
