"""``lutcli apply --cluster``: a folder applied on a Dask cluster (a scheduler's address, or
'local') writes what one machine writes; and IN/OUT given as fsspec URLs."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import distributed
import fsspec
import numpy as np
import pytest
from cli_support import (
    LUTCLI,
    assert_one_error_line,
    finish,
    gradient,
    is_running,
    noise,
    snapshot,
    start_lutcli,
    temp_files,
    write_picture,
)

import lutcli.cluster
from lutcli.io.images import read_image


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a LocalCluster of 2 single-threaded workers in this process (quick to
    start; the worker processes of tests/test_cluster.py are tested there)."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # no port clash
        silence_logs=40,  # errors only
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    for index in range(3):
        write_picture(folder / f"g{index}.jpg", gradient(24, 32, seed=index))
        write_picture(folder / f"n{index}.png", noise(20, 28, seed=index))
    return folder


def test_a_folder_on_a_cluster_gets_the_bytes_of_one_machine(
    tmp_path, photos, model_path, invoke, scheduler
):
    alone = invoke("apply", photos, tmp_path / "alone", "--model", model_path, "-q")
    assert alone.exit_code == 0, alone.output
    output = tmp_path / "cluster"
    result = invoke("apply", photos, output, "--model", model_path, "--cluster", scheduler)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == f"6 written to {output}"
    assert "6/6" in result.stderr  # the progress bar counts the photos done on the cluster
    assert snapshot(output) == snapshot(tmp_path / "alone")
    assert not temp_files(tmp_path)


def test_a_bad_photo_is_named_the_rest_done_and_a_rerun_does_what_is_missing(
    tmp_path, photos, model_path, invoke, scheduler
):
    (photos / "broken.jpg").write_bytes(b"not a photo")
    output = tmp_path / "out"
    args = ("apply", photos, output, "--model", model_path, "--cluster", scheduler)
    result = invoke(*args)
    assert result.exit_code == 1
    assert f"skipped: cannot read '{photos / 'broken.jpg'}'" in result.stderr
    assert "Error: 1 of 7 files could not be processed" in result.stderr
    assert len(snapshot(output)) == 6
    (output / "g1.jpg").unlink()
    again = invoke(*args)
    assert again.stdout.strip().splitlines()[-1] == (
        f"1 written to {output}, 5 already there (--overwrite replaces)"
    )


def test_urls_in_and_out(tmp_path, photos, model_path, invoke, scheduler):
    """memory:// on one machine, file:// on the cluster: what local folders get."""
    memory = fsspec.filesystem("memory")
    for path in photos.iterdir():
        memory.pipe_file(f"/cli-test/in/{path.name}", path.read_bytes())
    try:
        alone = invoke("apply", photos, tmp_path / "alone", "--model", model_path, "-q")
        assert alone.exit_code == 0, alone.output
        result = invoke(
            "apply", "memory://cli-test/in", "memory://cli-test/out", "--model", model_path
        )
        assert result.exit_code == 0, result.output
        assert "6 written to memory:///cli-test/out" in result.stdout
        expected = snapshot(tmp_path / "alone")
        assert {name: memory.cat(f"/cli-test/out/{name}") for name in expected} == expected
        assert sorted(memory.ls("/cli-test/out", detail=False)) == [
            f"/cli-test/out/{name}" for name in sorted(expected)
        ]
    finally:
        memory.rm("/cli-test", recursive=True)
    on_cluster = invoke(
        "apply",
        f"file://{photos}",
        f"file://{tmp_path}/c",
        "--model",
        model_path,
        "--cluster",
        scheduler,
    )
    assert on_cluster.exit_code == 0, on_cluster.output
    assert snapshot(tmp_path / "c") == expected


def test_a_url_without_its_backend_is_one_error_line(tmp_path, model_path, invoke, monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as where s3fs is not installed
    monkeypatch.delitem(sys.modules["fsspec.registry"]._registry, "s3", raising=False)
    result = invoke("apply", "s3://bucket/photos", tmp_path / "out", "--model", model_path)
    assert_one_error_line(result, "cannot open 's3://bucket/photos'", "s3fs")


def test_without_dask_cluster_says_what_to_install(
    tmp_path, photos, model_path, invoke, monkeypatch
):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as where it is not installed
    monkeypatch.delitem(sys.modules, "lutcli.cluster")
    result = invoke("apply", photos, tmp_path / "out", "--model", model_path, "--cluster", "local")
    assert_one_error_line(
        result, "--cluster needs Dask distributed", "pip install 'lutcli[cluster]'"
    )
    assert not (tmp_path / "out").exists()


def test_an_unreachable_scheduler_is_one_error_line(
    tmp_path, photos, model_path, invoke, monkeypatch
):
    monkeypatch.setattr(lutcli.cluster, "CONNECT_TIMEOUT", 0.5)
    address = "tcp://127.0.0.1:9"  # the discard port: nobody listens
    result = invoke("apply", photos, tmp_path / "out", "--model", model_path, "--cluster", address)
    assert_one_error_line(result, f"cannot reach the Dask scheduler at '{address}'")


def test_plain_apply_loads_neither_dask_nor_fsspec(tmp_path, photos, model_path):
    """Only --cluster pays for Dask, and only a URL for fsspec."""
    code = (
        "import sys; from lutcli.cli.main import cli; cli(sys.argv[1:], standalone_mode=False); "
        "print(sorted({'dask', 'distributed', 'fsspec'} & set(sys.modules)))"
    )
    args = ["apply", photos, tmp_path / "out", "--model", model_path, "-q"]
    run = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == "[]"


def processes_with(marker: str) -> list[int]:
    """The running processes whose environment holds ``marker`` (children inherit it)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environment = (entry / "environ").read_bytes()
        except OSError:  # not a process, gone, or another user's
            continue
        if marker.encode() in environment.split(b"\0") and is_running(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_cluster_local_runs_worker_processes_and_leaves_none(tmp_path, photos, model_path):
    """`lutcli apply --cluster local --jobs 2`, as a user runs it: the bytes of one machine,
    and no worker process left when it ends."""
    subprocess.run(
        [LUTCLI, "apply", photos, tmp_path / "alone", "--model", model_path, "-q"], check=True
    )
    marker = f"LUTCLI_TEST_RUN={uuid.uuid4().hex}"
    environment = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    args = [LUTCLI, "apply", photos, tmp_path / "out", "--model", model_path]
    run = subprocess.run(
        [*args, "--cluster", "local", "--jobs", "2"],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"6 written to {tmp_path / 'out'}"
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "alone")
    assert not processes_with(marker)


@pytest.fixture
def dask_port_taken() -> Iterator[None]:
    """Port 8787, where Dask serves by default, held by another program (a Dask dashboard
    already running, or another test run): no reason for lutcli to print a warning."""
    with socket.socket() as holder:
        with contextlib.suppress(OSError):  # already held by someone else: just as good
            holder.bind(("", 8787))
            holder.listen()
        yield


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_cluster_local_stopped_by_a_signal_ends_with_one_line(
    tmp_path, model_path, signal_number, dask_port_taken
):
    """A Ctrl-C (SIGINT to the terminal's whole process group) or a SIGTERM to it mid-run:
    lutcli's one line, no worker's traceback, no port warning, no worker left, only whole
    outputs."""
    folder = tmp_path / "photos"
    base = gradient(800, 1200)
    for index in range(40):
        write_picture(folder / f"{index:02d}.png", np.roll(base, 7 * index, axis=1))
    output = tmp_path / "out"
    marker = f"LUTCLI_TEST_RUN={uuid.uuid4().hex}"

    def as_from_a_terminal() -> None:  # its own process group, signals at their defaults
        os.setsid()
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)

    process = start_lutcli(
        "apply", folder, output, "--model", model_path, "-q", "--cluster", "local", "--jobs", "2",
        preexec_fn=as_from_a_terminal,
        env={**os.environ, marker.split("=")[0]: marker.split("=")[1]},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (output.is_dir() and any(p.suffix == ".png" for p in output.iterdir())):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no output appeared"
            time.sleep(0.005)
        os.killpg(process.pid, signal_number)
        stdout, stderr = finish(process, timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 128 + signal_number, stderr
    said = "interrupted" if signal_number == signal.SIGINT else "stopped by SIGTERM"
    assert stderr.strip().splitlines() == [f"lutcli: {said}"], stderr
    written = sorted(output.iterdir())
    assert 1 <= len(written) < 40 and not temp_files(output)
    for path in written:
        assert read_image(path).pixels.shape == (800, 1200, 3), path
    assert not processes_with(marker)
