"""Fixtures of the command-line tests: running ``lutcli`` in-process, and a saved model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import save_warm_model
from click.testing import CliRunner, Result

from lutcli.cli.main import cli


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """Run ``lutcli ARGS`` in-process; paths may be given as Path objects."""
    runner = CliRunner()

    def run(*args: object) -> Result:
        return runner.invoke(cli, [str(arg) for arg in args], catch_exceptions=True)

    return run


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    """A saved 17³ basic model with the warm look."""
    path = tmp_path / "look.pt"
    save_warm_model(path, 17)
    return path
