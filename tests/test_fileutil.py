"""atomic_write: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from lutcli.fileutil import atomic_write


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_writes_the_file_with_normal_permissions(tmp_path, umask_022):
    """Not the owner-only mode of temporary files: others can read it, like any saved file.

    lutcli reads the umask once at start-up, so the write runs in a fresh process that inherits
    the test's umask.
    """
    path = tmp_path / "look.cube"
    script = (
        "import sys\n"
        "from lutcli.fileutil import atomic_write\n"
        "with atomic_write(sys.argv[1]) as handle:\n"
        "    handle.write(b'LUT_3D_SIZE 2\\n')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=60)

    assert path.read_bytes() == b"LUT_3D_SIZE 2\n"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & 0o644 == 0o644, oct(mode)
    assert os.listdir(tmp_path) == ["look.cube"]


def test_writes_the_content(tmp_path):
    path = tmp_path / "look.cube"
    with atomic_write(path) as handle:
        handle.write(b"LUT_3D_SIZE 2\n")
    assert path.read_bytes() == b"LUT_3D_SIZE 2\n"
    assert os.listdir(tmp_path) == ["look.cube"]


def test_replaces_an_existing_file(tmp_path):
    path = tmp_path / "look.cube"
    path.write_bytes(b"old")
    with atomic_write(path) as handle:
        handle.write(b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["look.cube"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_an_error_keeps_the_old_file_and_leaves_no_temporary_file(error, tmp_path):
    path = tmp_path / "look.cube"
    path.write_bytes(b"old content")

    with pytest.raises(error):
        with atomic_write(path) as handle:
            handle.write(b"half of the new")
            raise error("interrupted")

    assert path.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["look.cube"]


def test_an_error_creates_no_file(tmp_path):
    path = tmp_path / "look.cube"
    with pytest.raises(RuntimeError):
        with atomic_write(path) as handle:
            handle.write(b"half")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []
