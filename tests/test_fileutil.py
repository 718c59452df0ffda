"""atomic_write: a reader sees the old file or the new one, never half of one; a writer that
was killed leaves nothing that the next run does not clean up."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys

import pytest

import lutcli.fileutil
from lutcli.fileutil import (
    TEMP_SUFFIX,
    DestinationExistsError,
    atomic_write,
    publish_copy,
    remove_stale_temp_files,
)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_writes_the_file_with_normal_permissions(tmp_path, umask_022):
    """Not the owner-only mode of temporary files: others can read it, like any saved file.
    The write runs in a fresh process that inherits the test's umask."""
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


def test_a_umask_set_after_import_is_the_one_applied(tmp_path):
    """The mode follows the umask of the moment, as for any file the program creates."""
    previous = os.umask(0o077)
    try:
        with atomic_write(tmp_path / "private.cube") as handle:
            handle.write(b"mine")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "private.cube").stat().st_mode) == 0o600


def test_importing_and_writing_never_change_the_umask(tmp_path):
    """The umask is process-wide: setting it, even for a moment, races with other threads."""
    script = (
        "import os, sys\n"
        "calls = []\n"
        "real = os.umask\n"
        "os.umask = lambda mask: calls.append(mask) or real(mask)\n"
        "from lutcli.fileutil import atomic_write\n"
        "with atomic_write(sys.argv[1]) as handle:\n"
        "    handle.write(b'x')\n"
        "print(calls)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "a.cube")],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert run.stdout.strip() == "[]"


# Not replacing: two runs writing into one folder -----------------------------------------------


def test_without_replace_a_new_file_is_written(tmp_path):
    with atomic_write(tmp_path / "out.png", replace=False) as handle:
        handle.write(b"new")
    assert (tmp_path / "out.png").read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.png"]


def test_without_replace_a_file_that_appeared_while_writing_is_kept(tmp_path):
    path = tmp_path / "out.png"
    with pytest.raises(DestinationExistsError):
        with atomic_write(path, replace=False) as handle:
            handle.write(b"mine")
            path.write_bytes(b"another run's")  # finished first
    assert path.read_bytes() == b"another run's"
    assert os.listdir(tmp_path) == ["out.png"]


@pytest.mark.parametrize("existing", [False, True])
def test_without_hard_links_no_replace_still_keeps_an_existing_file(
    tmp_path, monkeypatch, existing
):
    """File systems without hard links (FAT, some shares) get a check just before the rename."""

    def no_links(source, destination):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(lutcli.fileutil.os, "link", no_links)
    path = tmp_path / "out.png"
    if existing:
        path.write_bytes(b"kept")
    if existing:
        with pytest.raises(DestinationExistsError), atomic_write(path, replace=False) as handle:
            handle.write(b"new")
    else:
        with atomic_write(path, replace=False) as handle:
            handle.write(b"new")
    assert path.read_bytes() == (b"kept" if existing else b"new")
    assert os.listdir(tmp_path) == ["out.png"]


# Temporary files left by a killed writer --------------------------------------------------------


def test_a_temporary_file_names_its_writer(tmp_path):
    with atomic_write(tmp_path / "out.png") as handle:
        name = os.path.basename(handle.name)
        assert name.startswith(".out.png.") and name.endswith(TEMP_SUFFIX)
        assert lutcli.fileutil._writer_pid(name) == os.getpid()


def test_a_very_long_name_still_gets_a_temporary_file(tmp_path):
    path = tmp_path / ("é" * 120 + ".png")  # 241 bytes, near the 255 a file name may have
    with atomic_write(path) as handle:
        handle.write(b"x")
    assert path.read_bytes() == b"x"


def killed_writer(folder) -> str:
    """The name of the temporary file that a writer killed by SIGKILL mid-write left."""
    script = (
        "import sys, time\n"
        "from lutcli.fileutil import atomic_write\n"
        "with atomic_write(sys.argv[1]) as handle:\n"
        "    handle.write(b'x' * 100000)\n"
        "    handle.flush()\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(folder / "photo.png")], stdout=subprocess.PIPE
    )
    assert process.stdout.readline() == b"writing\n"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    process.stdout.close()
    [left] = [name for name in os.listdir(folder) if name.endswith(TEMP_SUFFIX)]
    return left


def test_the_next_write_removes_what_a_killed_writer_left(tmp_path):
    left = killed_writer(tmp_path)
    running = f".other.png.{os.getpid()}.{lutcli.fileutil._HOST}.0000{TEMP_SUFFIX}"
    elsewhere = f".other.png.{os.getpid() + 1}.0badc0de.0000{TEMP_SUFFIX}"
    for name in (running, elsewhere, "photo.png.lutcli-tmp.txt"):
        (tmp_path / name).write_bytes(b"not ours to remove")
    assert left.startswith(".photo.png.")
    with atomic_write(tmp_path / "next.png") as handle:
        handle.write(b"x")
    # Only the dead writer's: not one still writing, nor one of another machine or naming.
    names = sorted(os.listdir(tmp_path))
    assert names == sorted(["next.png", running, elsewhere, "photo.png.lutcli-tmp.txt"])


def test_writes_look_for_stale_temporary_files_once_per_folder(tmp_path):
    with atomic_write(tmp_path / "first.png") as handle:
        handle.write(b"x")
    left = killed_writer(tmp_path)  # after this process's first write there
    with atomic_write(tmp_path / "second.png") as handle:
        handle.write(b"x")
    assert left in os.listdir(tmp_path)
    # Asked for, the folder is looked at again (as after a cluster's workers were stopped).
    assert remove_stale_temp_files(tmp_path) == [tmp_path / left]
    assert remove_stale_temp_files(tmp_path) == []


@pytest.mark.parametrize("links", [True, False], ids=["hard link", "no links: a copy"])
def test_publish_copy_replaces_the_destination_and_keeps_the_source(tmp_path, monkeypatch, links):
    source, destination = tmp_path / "graded.tmp", tmp_path / "graded.partial.mp4"
    source.write_bytes(b"frames so far")
    destination.write_bytes(b"an older partial clip")
    if not links:
        monkeypatch.setattr(
            os, "link", lambda *args: (_ for _ in ()).throw(OSError(errno.EPERM, "no"))
        )
    publish_copy(source, destination)
    assert destination.read_bytes() == source.read_bytes() == b"frames so far"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graded.partial.mp4", "graded.tmp"]
