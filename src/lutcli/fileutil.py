"""Writing files so that a reader never sees half of one: temporary file, then rename.

A temporary file is named ``.NAME.PID.HOST.RANDOM.lutcli-tmp`` beside its destination ``NAME``:
a writer killed outright (SIGKILL, power loss) cannot remove it, so the first atomic write into
a folder removes those of this machine whose writing process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".lutcli-tmp"
# Only temporary files written on this machine are checked against its processes.
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
# Bytes of the destination's name kept in a temporary file's name (file names stop at 255).
_NAME_BYTES = 120
# Hard links that a file system does not support (FAT, some network shares).
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}

_cleaned_folders: set[Path] = set()


class DestinationExistsError(FileExistsError):
    """``atomic_write(path, replace=False)`` found a file at ``path``, perhaps one that appeared
    while it wrote; that file is kept."""


_cleaning = threading.Lock()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, replace: bool = True) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``path``; on success it becomes ``path`` in one step.

    With ``replace`` False an existing ``path``, even one that appeared while writing, is kept
    and DestinationExistsError is raised. On any error or interruption the temporary file is removed
    and ``path`` is left as it was. The file gets the usual permissions (0o666 less the umask).
    """
    path = Path(path)
    _remove_stale_temp_files_once(path.parent)
    temporary = path.parent / _temp_name(path.name)
    # Created with mode 0o666, less the umask that the OS applies: none is read or changed.
    handle = open(temporary, "xb")  # noqa: SIM115 (closed below, before the rename)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            _publish_without_replacing(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _publish_without_replacing(temporary: Path, path: Path) -> None:
    """Give ``temporary`` the name ``path`` unless a file has it: a hard link fails rather than
    replace, in one step, then the temporary name goes."""
    exists = DestinationExistsError(errno.EEXIST, "a file is there already", str(path))
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise exists from None
    except OSError as error:
        if error.errno not in _NO_LINKS:
            raise
        # No hard links here: check, then rename (another writer could slip in between).
        if os.path.lexists(path):
            raise exists from None
        os.replace(temporary, path)
        return
    os.unlink(temporary)


def publish_copy(source: Path, destination: Path) -> None:
    """Give ``destination`` the bytes of the file ``source`` (which stays) in one step,
    replacing what is there: a hard link (a copy where the file system has none) under a
    temporary name beside it, then renamed."""
    temporary = destination.parent / _temp_name(destination.name)
    try:
        try:
            os.link(source, temporary)
        except OSError as error:
            if error.errno not in _NO_LINKS:
                raise
            shutil.copyfile(source, temporary)
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _temp_name(name: str) -> str:
    kept = os.fsdecode(os.fsencode(name)[:_NAME_BYTES])
    return f".{kept}.{os.getpid()}.{_HOST}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _writer_pid(name: str) -> int | None:
    """The process that wrote the temporary file ``name`` on this machine, from its name."""
    if not (name.startswith(".") and name.endswith(TEMP_SUFFIX)):
        return None
    parts = name[: -len(TEMP_SUFFIX)].rsplit(".", 3)
    if len(parts) != 4 or parts[2] != _HOST or not parts[1].isdigit():
        return None
    return int(parts[1])


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


def _remove_stale_temp_files_once(folder: Path) -> None:
    """``remove_stale_temp_files`` the first time this process writes into ``folder``."""
    with _cleaning:
        if folder in _cleaned_folders:
            return
        _cleaned_folders.add(folder)
    remove_stale_temp_files(folder)


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files in ``folder`` that a process of this machine left when it was
    killed. Returns the files removed."""
    if os.name != "posix":  # the check by process id is the POSIX one
        return []
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            pid = _writer_pid(entry.name)
            if pid is not None and not _is_running(pid) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, hex: what a file's cached results are keyed on."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_root() -> Path:
    """Where lutcli caches what it made once (teacher outputs, prepared training pairs) unless
    the user says otherwise: $LUTCLI_CACHE, else $XDG_CACHE_HOME/lutcli, else ~/.cache/lutcli."""
    if os.environ.get("LUTCLI_CACHE"):
        return Path(os.environ["LUTCLI_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lutcli"
