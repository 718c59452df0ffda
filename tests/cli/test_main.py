"""The ``lutcli`` group: version, help, the model list, and user errors as one line."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from cli_support import LUTCLI
from click.testing import CliRunner

import lutcli
from lutcli.cli.main import LutcliGroup, cli
from lutcli.errors import LutcliError
from lutcli.models.registry import MODELS, create_model

COMMANDS = ["train", "distill", "apply", "export-cube", "models", "presets"]


def test_help_answers_without_loading_torch():
    """`lutcli --help` must answer at once: torch (seconds to import) loads only for commands
    that compute."""
    code = "import sys; from lutcli.cli.main import cli; print('torch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr
    result = subprocess.run([str(LUTCLI), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "apply" in result.stdout


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"lutcli, version {lutcli.__version__}\n"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_the_commands(invoke, flag):
    result = invoke(flag)
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(invoke, command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    usage = result.stdout.splitlines()[0]
    assert usage.startswith("Usage: ") and f" {command}" in usage
    assert "Traceback" not in result.output


def test_models_lists_every_model_and_its_options(invoke):
    result = invoke("models")
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    models = [line for line in lines if not line.startswith(" ")]
    assert [line.split()[0] for line in models] == list(MODELS)
    for name, model in MODELS.items():
        index = lines.index(next(line for line in models if line.split()[0] == name))
        kind = lines[index].split()[1]
        assert model.description in lines[index]
        if name == "multiscale":  # wraps any other model, chosen with --scales
            assert kind == "wrapper" and "--scales" in lines[index + 1]
            continue
        assert kind == ("adaptive" if model.adaptive else "fixed")
        # The options line shows the settings --model-option takes, with their defaults: just
        # what a model built with defaults stores in its file.
        stored = {k: str(v) for k, v in create_model(name, lut_size=5).config().items()}
        del stored["lut_size"]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if stored:
            words = following.split()
            assert words[0] == "options:"
            assert dict(word.split("=") for word in words[1:]) == stored
        else:
            assert not following.startswith(" ")


def test_unknown_command_is_a_usage_error(invoke):
    result = invoke("paint")
    assert result.exit_code == 2
    assert "No such command 'paint'" in result.stderr


def test_the_console_script_runs():
    done = subprocess.run([LUTCLI, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"lutcli, version {lutcli.__version__}"


# How the group turns errors into one line -----------------------------------------------------


def group_raising(error: BaseException) -> click.Group:
    @click.group(cls=LutcliGroup)
    def group() -> None:
        pass

    @group.command()
    def run() -> None:
        raise error

    return group


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (LutcliError("the folder is empty"), "Error: the folder is empty"),
        (
            FileNotFoundError(2, "No such file or directory", "/x/y.png"),
            "Error: No such file or directory '/x/y.png'",
        ),
        (PermissionError(13, "Permission denied"), "Error: Permission denied"),
        (OSError("disk on fire"), "Error: disk on fire"),
    ],
)
def test_user_errors_become_one_line(error, line):
    result = CliRunner().invoke(group_raising(error), ["run"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


def test_interrupt_exits_130_with_one_line():
    result = CliRunner().invoke(group_raising(KeyboardInterrupt()), ["run"])
    assert result.exit_code == 130
    assert result.stderr == "lutcli: interrupted\n"


def test_bugs_are_not_hidden():
    result = CliRunner().invoke(group_raising(ZeroDivisionError("a bug")), ["run"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_the_real_group_is_a_lutcli_group():
    assert isinstance(cli, LutcliGroup)
