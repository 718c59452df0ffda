"""Signals in the lutcli process: what a signal does at start-up, at work, during an import, and
when the code it lands in swallows it. Each case runs in a Python process of its own."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

TAKE_OVER = """\
import os, signal, sys, time
from lutcli.cli import signals
from lutcli.errors import Interrupted
signals.take_over()
"""


def default_signals() -> None:
    """In the child: the signals at their defaults, as a terminal starts a program (a parent
    started under nohup, or from a background shell, would have it inherit them ignored)."""
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


def run(script: str, folder: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``script`` (after TAKE_OVER) with default signals and ``folder`` on its path."""
    code = TAKE_OVER + (f"sys.path.insert(0, {str(folder)!r})\n" if folder else "")
    return subprocess.run(
        [sys.executable, "-c", code + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=default_signals,
    )


def test_a_signal_at_start_up_ends_the_process_at_once():
    done = run("""
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        print("went on")
    """)
    assert (done.returncode, done.stderr, done.stdout) == (143, "lutcli: stopped by SIGTERM\n", "")


def test_at_work_a_signal_raises_interrupted_so_that_clean_ups_run():
    done = run("""
        try:
            with signals.at_work():
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(5)
                finally:
                    print("cleaned up")
        except Interrupted as interrupted:
            print("interrupted by", interrupted.signal_number)
    """)
    assert done.stdout == f"cleaned up\ninterrupted by {signal.SIGINT}\n", done.stderr


def test_a_second_signal_does_not_break_into_the_clean_up():
    done = run("""
        try:
            with signals.at_work():
                try:
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(5)
                finally:
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.05)
                    print("cleaned up")
        except Interrupted as interrupted:
            print("interrupted by", interrupted.signal_number)
    """)
    assert done.stdout == f"cleaned up\ninterrupted by {signal.SIGINT}\n", done.stderr


def test_a_signal_during_an_import_waits_for_the_import_to_return(tmp_path):
    """Native libraries (torch) call back into Python as they load: raising in there can abort
    the process. The module loads whole, then the signal is acted on."""
    (tmp_path / "slow_module.py").write_text(
        "import os, signal\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "for _ in range(100000):\n"
        "    pass\n"
        "LOADED = True\n"
    )
    done = run(
        """
        try:
            with signals.at_work():
                import slow_module
                print("went on")
        except Interrupted:
            print("interrupted; loaded:", sys.modules["slow_module"].LOADED)
        """,
        tmp_path,
    )
    assert done.stdout == "interrupted; loaded: True\n", done.stderr


def test_a_signal_the_work_swallowed_still_ends_it_as_interrupted():
    """Code that catches every exception (C code calling back into Python does) may eat the
    KeyboardInterrupt: the work goes on, and is reported as interrupted when it returns."""
    done = run("""
        try:
            with signals.at_work():
                try:
                    os.kill(os.getpid(), signal.SIGHUP)
                    time.sleep(5)
                except BaseException:
                    pass
                print("went on")
        except Interrupted as interrupted:
            print("interrupted by", interrupted.signal_number)
    """)
    assert done.stdout == f"went on\ninterrupted by {signal.SIGHUP}\n", done.stderr


def test_the_library_and_the_cli_module_leave_the_signals_alone():
    """Only the program (lutcli.__main__) takes over signals and imports, never an import."""
    code = (
        "import builtins, signal; real = builtins.__import__\n"
        "import lutcli.cli.main, lutcli.cli.signals, lutcli.__main__\n"
        "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, builtins.__import__ is real)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout == "True True\n", done.stderr
