"""Errors a user can cause. The CLI turns each into one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import re


class LutcliError(Exception):
    """Base of every error caused by input (files, folders, options), not by a bug."""


class LutFormatError(LutcliError):
    """A LUT file that cannot be read; the message names the file (and the line of a text
    format)."""


class ImageReadError(LutcliError):
    """An image file that cannot be decoded (corrupt, truncated, unknown format)."""


class ModelFileError(LutcliError):
    """A file that is not a lutcli model, or one that would need to run code to load."""


class DatasetError(LutcliError):
    """A training folder that cannot be used (missing, empty, unmatched pairs)."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (Ctrl-C, SIGTERM, SIGHUP). A KeyboardInterrupt, so that
    everything that cleans up on Ctrl-C (atomic writes, teacher commands) does so here too."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal_number = signal_number


def os_error_reason(error: OSError) -> str:
    """Why an OSError happened, in plain words ("read-only file system"), without the
    "[Errno 30]" and the file name that ``str(error)`` adds: for messages that name the file
    themselves."""
    if error.strerror:
        reason = error.strerror
    elif error.errno is not None:
        reason = os.strerror(error.errno)
    else:
        reason = " ".join(str(error).split()) or type(error).__name__
    # The system's phrases start with a capital; lutcli's messages go on in lower case.
    return reason[:1].lower() + reason[1:] if reason[1:2].islower() else reason


def os_error_message(error: OSError) -> str:
    """An OSError as one line: the file(s) it is about, then the plain reason."""
    names = [os.fsdecode(n) for n in (error.filename, error.filename2) if n is not None]
    where = " -> ".join(f"'{name}'" for name in names)
    return f"{where}: {os_error_reason(error)}" if where else os_error_reason(error)


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says that memory ran out: a MemoryError, or torch's allocators failing
    (a RuntimeError on the CPU, torch.OutOfMemoryError on a GPU)."""
    if isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError":
        return True
    return isinstance(error, RuntimeError) and "can't allocate memory" in str(error)


def out_of_memory_reason(error: BaseException) -> str:
    """How much an out-of-memory error asked for, in words ("it asked for 36.4 TiB"), or ""."""
    text = str(error)
    found = re.search(r"allocate (\d+) bytes", text)  # torch's CPU allocator
    if found:
        size, unit = float(found.group(1)), "bytes"
        for larger in ("KiB", "MiB", "GiB", "TiB", "PiB"):
            if size < 1024:
                break
            size, unit = size / 1024, larger
        return f"it asked for {size:.1f} {unit}"
    found = re.search(r"allocate ([\d.]+ [KMGTP]?i?B)", text)  # numpy's, torch's on a GPU
    return f"it asked for {found.group(1)}" if found else ""
