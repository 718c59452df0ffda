"""The ``lutcli`` program: version, help, the model list, user errors as one line, and signals
sent to a real process."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from cli_support import (
    LUTCLI,
    assert_whole_images,
    finish,
    gradient,
    is_running,
    save_warm_model,
    start_lutcli,
    wait_for_lutcli_code,
    write_picture,
)
from click.testing import CliRunner

import lutcli
from lutcli.cli.main import LutcliGroup, cli
from lutcli.errors import Interrupted, LutcliError
from teacher_support import STALL, script_teacher

COMMANDS = ["train", "distill", "apply", "export-cube", "models", "presets"]


def test_help_answers_without_loading_torch():
    """`lutcli --help` must answer at once: torch (seconds to import) loads only for commands
    that compute."""
    code = "import sys; from lutcli.cli.main import cli; print('torch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.strip() == "False", loaded.stderr
    result = subprocess.run([str(LUTCLI), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "apply" in result.stdout


def test_a_command_s_help_answers_without_loading_torch():
    code = (
        "import sys; from lutcli.cli.main import cli\n"
        "try: cli.main(['apply', '--help'])\n"
        "except SystemExit: print('torch' in sys.modules, 'cv2' in sys.modules)"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert loaded.stdout.splitlines()[-1] == "False False", loaded.stderr


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


def test_unknown_command_is_a_usage_error(invoke):
    result = invoke("paint")
    assert result.exit_code == 2
    assert "No such command 'paint'" in result.stderr


def test_the_console_script_runs():
    done = subprocess.run([LUTCLI, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.strip() == f"lutcli, version {lutcli.__version__}"


def test_a_reader_that_stops_early_gets_no_error():
    """`lutcli models | head -1`: the pipe closes before lutcli writes; that is no error."""
    process = subprocess.Popen([LUTCLI, "models"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 128 + signal.SIGPIPE
    assert stderr == ""


def test_python_m_lutcli_is_the_program_too():
    done = subprocess.run(
        [sys.executable, "-m", "lutcli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, f"lutcli, version {lutcli.__version__}\n")


# The program, with an object that says when the interpreter is finalized and an atexit function.
LEAVING = """
import atexit, sys
from lutcli import __main__ as program

class SaysWhenFinalized:
    def __del__(self):
        print("finalized", flush=True)

kept = SaysWhenFinalized()
atexit.register(print, "atexit ran")
sys.argv = ["lutcli", *sys.argv[1:]]
program.main()
"""


@pytest.mark.parametrize(
    ("arguments", "status"),
    [(["presets"], 0), (["apply", "missing.jpg", "out.jpg", "--lut", "x.cube"], 1), ([], 2)],
)
def test_the_program_leaves_without_finalizing_after_atexit_and_with_its_status(
    tmp_path, arguments, status
):
    """Finalizing could catch a thread still freeing tensors, which aborts the process (-6):
    every run leaves the way an interrupted one does, its output whole and its status kept."""
    done = subprocess.run(
        [sys.executable, "-c", LEAVING, *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == status, done.stderr
    assert done.stdout.endswith("atexit ran\n") and "finalized" not in done.stdout
    if arguments == ["presets"]:
        assert len(done.stdout.splitlines()) > 5  # every preset, then the atexit line


def test_an_exit_with_a_message_prints_it_and_gives_1(capsys):
    from lutcli.__main__ import exit_status

    assert [exit_status(None), exit_status(0), exit_status(3)] == [0, 0, 3]
    assert exit_status("lutcli: bye") == 1
    assert capsys.readouterr().err == "lutcli: bye\n"


def test_commands_silence_opencv_s_own_logging():
    """The one line lutcli prints about a file is what a user reads, not OpenCV's log too. The
    library leaves OpenCV's settings alone; the command line owns its process."""
    code = (
        "import cv2, lutcli.io.images\n"
        "from cv2.utils import logging\n"
        "silent = logging.LOG_LEVEL_SILENT\n"
        "print('silent:', logging.getLogLevel() == silent)\n"
        "from lutcli.cli.main import cli\n"
        "cli.main(['models'], standalone_mode=False)\n"
        "print('silent:', logging.getLogLevel() == silent)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    said = [line for line in done.stdout.splitlines() if line.startswith("silent:")]
    assert said == ["silent: False", "silent: True"], done.stderr


# How the group turns errors into one line -----------------------------------------------------


def group_raising(error: BaseException) -> click.Group:
    @click.group(cls=LutcliGroup)
    def group() -> None:
        pass

    @group.command()
    def run() -> None:
        raise error

    return group


def os_error(number: int, *names: str) -> OSError:
    """The OSError the system raises for ``number`` on the files ``names``."""
    return OSError(number, os.strerror(number), *names[:1], None, *names[1:])


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (LutcliError("the folder is empty"), "Error: the folder is empty"),
        (
            FileNotFoundError(2, "No such file or directory", "/x/y.png"),
            "Error: '/x/y.png': no such file or directory",
        ),
        (PermissionError(13, "Permission denied"), "Error: permission denied"),
        (OSError("disk on fire"), "Error: disk on fire"),
        # Never "[Errno 30] Read-only file system: '/x'".
        (os_error(errno.EROFS, "/x"), "Error: '/x': read-only file system"),
        (os_error(errno.ENOSPC, "/x/look.pt"), "Error: '/x/look.pt': no space left on device"),
        (os_error(errno.EXDEV, "/a", "/b"), "Error: '/a' -> '/b': invalid cross-device link"),
    ],
)
def test_user_errors_become_one_line(error, line):
    result = CliRunner().invoke(group_raising(error), ["run"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""


def real_error(allocate) -> BaseException:
    """The error that trying ``allocate`` raises."""
    try:
        allocate()
    except BaseException as error:  # noqa: BLE001 - it is what the test is about
        return error
    raise AssertionError("the allocation succeeded")


@pytest.mark.parametrize(
    ("allocate", "reason"),
    [
        (lambda: bytearray(1 << 60), ""),  # Python's MemoryError, no message
        (lambda: np.empty(1 << 50), " (it asked for 8.00 PiB)"),
        # torch's CPU allocator raises a RuntimeError, not a MemoryError.
        (lambda: torch.empty(1 << 50, dtype=torch.uint8), " (it asked for 1.0 PiB)"),
    ],
)
def test_running_out_of_memory_is_one_line(allocate, reason):
    result = CliRunner().invoke(group_raising(real_error(allocate)), ["run"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"Error: out of memory while running lutcli run{reason}"]


def test_interrupt_exits_130_with_one_line():
    result = CliRunner().invoke(group_raising(KeyboardInterrupt()), ["run"])
    assert result.exit_code == 130
    assert result.stderr == "lutcli: interrupted\n"


@pytest.mark.parametrize(("number", "status"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_other_signals_exit_128_plus_their_number_with_one_line(number, status):
    result = CliRunner().invoke(group_raising(Interrupted(number)), ["run"])
    assert result.exit_code == status
    assert result.stderr == f"lutcli: stopped by {signal.Signals(number).name}\n"


def test_other_runtime_errors_are_bugs_and_not_hidden():
    error = RuntimeError("shapes do not match")
    result = CliRunner().invoke(group_raising(error), ["run"])
    assert result.exception is error


def test_bugs_are_not_hidden():
    result = CliRunner().invoke(group_raising(ZeroDivisionError("a bug")), ["run"])
    assert isinstance(result.exception, ZeroDivisionError)


def test_the_real_group_is_a_lutcli_group():
    assert isinstance(cli, LutcliGroup)


# Signals sent to a real `lutcli` process --------------------------------------------------------

PHOTO_SHAPE = (800, 1200, 3)


@pytest.fixture(scope="module")
def long_run(tmp_path_factory) -> Callable[..., subprocess.Popen]:
    """Start, with ``start_lutcli``, an `apply` into OUT that takes seconds: one photo at a
    time, 300 photos of 800x1200 (hard links to one file, made at once)."""
    root = tmp_path_factory.mktemp("long_run")
    model = root / "look.pt"
    save_warm_model(model, 17)
    folder = root / "photos"
    first = write_picture(folder / "000.png", gradient(*PHOTO_SHAPE[:2]))
    for index in range(1, 300):
        os.link(first, folder / f"{index:03d}.png")

    def start(output: Path, *options: str, **popen: object) -> subprocess.Popen:
        return start_lutcli("apply", folder, output, "--model", model, "-j", "1", *options, **popen)

    return start


# From the moment lutcli's code runs: Python's own start-up, before it, is not lutcli's. The
# first second or so is start-up: importing torch; later ones land in the work.
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2, 0.5, 1.0, 1.5])
def test_ctrl_c_at_any_moment_ends_with_130_and_one_line(tmp_path, long_run, delay):
    output = tmp_path / "out"
    process = long_run(output, "-q")
    wait_for_lutcli_code(process)
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    stdout, stderr = finish(process)
    assert "Traceback" not in stderr, stderr
    assert (process.returncode, stderr, stdout) == (130, "lutcli: interrupted\n", "")
    assert len(assert_whole_images(output, PHOTO_SHAPE)) < 300  # it did stop


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("moment", ["start-up", "work"])
def test_sigterm_and_sighup_end_like_ctrl_c(tmp_path, long_run, number, moment):
    """Without --quiet: the progress bar goes, the one line stays."""
    output = tmp_path / "out"
    process = long_run(output)
    wait_for_lutcli_code(process)
    if moment == "work":
        deadline = time.monotonic() + 60
        while not (output.is_dir() and any(output.glob("*.png"))):
            assert process.poll() is None and time.monotonic() < deadline, finish(process)
            time.sleep(0.005)
    process.send_signal(number)
    stdout, stderr = finish(process)
    line = f"lutcli: stopped by {signal.Signals(number).name}\n"
    assert "Traceback" not in stderr, stderr
    assert (process.returncode, stderr, stdout) == (128 + number, line, "")
    assert len(assert_whole_images(output, PHOTO_SHAPE)) < 300


def test_a_signal_ignored_at_start_stays_ignored(tmp_path, long_run):
    """`nohup lutcli ...` goes on when the terminal closes."""

    def ignore_sighup() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    process = long_run(tmp_path / "out", "-q", preexec_fn=ignore_sighup)
    wait_for_lutcli_code(process)
    process.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    assert finish(process)[1] == "lutcli: interrupted\n"
    assert process.returncode == 130


def test_sigterm_during_distill_stops_the_teacher_and_removes_its_folder(tmp_path):
    """The teacher command, and what it started, are stopped; its temporary folder goes."""
    write_picture(tmp_path / "photos" / "a.png", gradient(16, 24))
    teacher = script_teacher(tmp_path / "teacher", STALL)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    output = tmp_path / "model" / "look.pt"
    output.parent.mkdir()
    arguments = ["distill", tmp_path / "photos", "-o", output, "--teacher", teacher.spec, "-q"]
    arguments += ["--cache", tmp_path / "cache"]
    process = start_lutcli(*arguments, env={**os.environ, "TMPDIR": str(temporary)})
    running, pids = teacher.folder / "running.txt", []
    try:
        deadline = time.monotonic() + 60
        while not running.is_file():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the teacher never ran"
            time.sleep(0.01)
        pids = [int(word) for word in running.read_text().split()]
        assert all(is_running(pid) for pid in pids)
        assert list(temporary.glob("lutcli-teacher-*"))  # where the teacher writes
        process.send_signal(signal.SIGTERM)
        stdout, stderr = finish(process)
        assert (process.returncode, stderr, stdout) == (143, "lutcli: stopped by SIGTERM\n", "")
        deadline = time.monotonic() + 5  # the helper is reaped by init, a moment later
        while any(is_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not any(is_running(pid) for pid in pids)
        assert list(temporary.glob("lutcli-teacher-*")) == []
        assert list(output.parent.iterdir()) == []
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
