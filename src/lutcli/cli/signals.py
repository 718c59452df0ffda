"""Ctrl-C, SIGTERM and SIGHUP in the ``lutcli`` process: at any moment, the run stops cleanly,
prints one line and exits with 128 + the signal's number (130, 143, 129).

``take_over`` installs the handlers as the process starts. Before the command's work begins
(``at_work``) and after it ends, nothing is being written: a signal ends the process at once,
even in the middle of importing torch. At work, the handler raises ``Interrupted`` (a
KeyboardInterrupt), so that every ``finally`` and ``except BaseException`` cleans up: atomic
writes remove their temporary file, teacher commands are stopped. While the main thread
imports a module, the signal waits until the import returns: torch's native code calls back
into Python as it loads, and an exception raised in there can abort the process or be lost.

Only the command line calls ``take_over``: the library never touches the host's signals.
"""

from __future__ import annotations

import _thread
import atexit
import builtins
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import NoReturn

from lutcli.errors import Interrupted

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class _State:
    """What the handlers know: the first signal received, and what the process is doing."""

    received: int | None = None
    raised = False  # an Interrupted was raised: later signals wait for its clean-up
    at_work = False
    importing = 0  # depth of the imports the main thread is in
    main_thread: int | None = None


def take_over() -> None:
    """Handle SIGINT, SIGTERM and SIGHUP from now on, and hold them during imports. A signal
    that the process was started with ignored (``nohup``, ``&`` in a script) stays ignored."""
    _State.main_thread = _thread.get_ident()
    for number in SIGNALS:
        if signal.getsignal(number) is not signal.SIG_IGN:
            signal.signal(number, _on_signal)
    real_import = builtins.__import__

    def import_holding_signals(*args, **kwargs):
        if _thread.get_ident() != _State.main_thread:  # signals reach the main thread only
            return real_import(*args, **kwargs)
        _State.importing += 1
        try:
            return real_import(*args, **kwargs)
        finally:
            _State.importing -= 1
            if not _State.importing:
                _raise_if_received()

    builtins.__import__ = import_holding_signals


@contextlib.contextmanager
def at_work() -> Iterator[None]:
    """The command's work: a signal now raises Interrupted. Should the code that a signal
    landed in swallow the exception, the work is still reported as interrupted when it returns.
    Without ``take_over`` (the library, tests), this does nothing."""
    _State.at_work = True
    try:
        yield
        if _State.received is not None:
            raise Interrupted(_State.received)
    finally:
        _State.at_work = False


def exit_interrupted(signal_number: int = signal.SIGINT) -> NoReturn:
    """End the run as stopped by ``signal_number``: one line on stderr, exit 128 + it (the
    ``lutcli`` program leaves through ``leave``, as after any run). The interrupt came through
    every ``finally`` first: temporary files removed, teachers stopped, a cluster closed."""
    with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
        print(_line(signal_number), file=sys.stderr, flush=True)
    sys.exit(128 + signal_number)


def leave(status: int) -> NoReturn:
    """Exit the ``lutcli`` process with ``status`` without finalizing the interpreter, once
    the command is over (its ``finally`` blocks have run): a thread that has just finished its
    work may still be freeing tensors (a photo's pool thread, a torch.distributed
    process group's), and torch aborts the whole process ("terminate called without an active
    exception", status -6) when finalization catches a thread there. The functions registered
    with ``atexit`` run, and stdout and stderr are flushed, first."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def _line(signal_number: int) -> str:
    if signal_number == signal.SIGINT:
        return "lutcli: interrupted"
    return f"lutcli: stopped by {signal.Signals(signal_number).name}"


def _on_signal(number: int, frame: object) -> None:
    if _State.received is None:
        _State.received = number
    if not _State.at_work:  # nothing is being written: stop now, even inside an import
        with contextlib.suppress(OSError):
            os.write(2, f"{_line(number)}\n".encode())
        os._exit(128 + number)
    _raise_if_received()


def _raise_if_received() -> None:
    """Raise Interrupted for the signal received, if one was and it may be raised now."""
    if (
        _State.received is not None
        and _State.at_work
        and not _State.importing
        and not _State.raised
    ):
        _State.raised = True
        raise Interrupted(_State.received)
