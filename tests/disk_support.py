"""A full disk for the tests: writes of lutcli's files fail as they do when no space is left."""

from __future__ import annotations

import contextlib
import errno
import os

import pytest

from lutcli.models import files


class FullDisk:
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, handle, room: int) -> None:
        self.handle, self.room = handle, room
        self.name = handle.name

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)


def fill_the_disk(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    """Atomic writes of model files get ``room`` bytes, then the disk is full."""
    real = files.atomic_write

    @contextlib.contextmanager
    def full(path, *args, **kwargs):
        with real(path, *args, **kwargs) as handle:
            yield FullDisk(handle, room)

    monkeypatch.setattr(files, "atomic_write", full)
