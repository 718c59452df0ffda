"""lutcli.cluster: a run's photos spread over a real Dask LocalCluster of 2 worker processes,
with the guarantees of a run on one machine, also when a worker is killed mid-run."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import cv2
import distributed
import numpy as np
import pytest
import torch

import lutcli
import lutcli.processing
from lutcli.cluster import check_workers, process_jobs_on_cluster
from lutcli.errors import LutcliError
from lutcli.looks import LookFile
from lutcli.models.files import save_model
from lutcli.models.registry import create_model
from lutcli.processing import Job, plan_jobs, process_jobs
from zoo_support import perturb

# Functions below run on the workers (client.run): sent by value, the workers do not import
# the tests.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """A client of a LocalCluster of 2 worker processes with one thread each (shared by the
    tests of this file: starting one takes seconds), closed with its processes at the end."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # no port clash
            silence_logs=40,  # errors only
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def look(tmp_path_factory) -> LookFile:
    """A model that changes every color a little, as a file's bytes."""
    path = tmp_path_factory.mktemp("look") / "look.pt"
    torch.manual_seed(0)
    save_model(path, perturb(create_model("basic", lut_size=9), lut_noise=0.05))
    return LookFile.read("model", path, "trilinear")


def photos(folder: Path, count: int = 6, extra: tuple[str, ...] = ()) -> Path:
    """``count`` small JPEG and PNG photos (and a PNG for each name in ``extra``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [f"p{index}.{'jpg' if index % 2 else 'png'}" for index in range(count)]
    for name in [*names, *extra]:
        assert cv2.imwrite(str(folder / name), rng.integers(0, 256, (24, 32, 3), np.uint8))
    return folder


def single_machine(look: LookFile, source: Path, destination: Path) -> dict[str, bytes]:
    """What `lutcli apply` writes on one machine, by name."""
    process_jobs(look.open(torch.device("cpu")), plan_jobs(source, destination, False).jobs)
    return outputs(destination)


def outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def temp_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*lutcli-tmp*"))


def test_the_cluster_writes_the_bytes_of_one_machine(tmp_path, client, look):
    source = photos(tmp_path / "in")
    expected = single_machine(look, source, tmp_path / "one")
    done = []
    jobs = plan_jobs(source, tmp_path / "cluster", False).jobs
    summary = process_jobs_on_cluster(
        client, look, jobs, on_done=lambda job, outcome, message: done.append(outcome)
    )
    assert (summary.written, summary.skipped, summary.failed) == (6, 0, [])
    assert done == ["written"] * 6  # the progress bar advances once a photo
    assert outputs(tmp_path / "cluster") == expected
    assert not temp_files(tmp_path)


def _count_reused_pixels() -> None:
    """On a worker: count in lutcli.processing.reused the photos decoded into the pixels of
    the photo its thread did before (DecodeBuffers wrapped; _stop_counting unwraps it)."""
    buffers = lutcli.processing.DecodeBuffers
    take, keep = buffers.take, buffers.keep
    taken: dict[int, np.ndarray | None] = {}

    def counted_take(self):
        taken[threading.get_ident()] = pixels = take(self)
        return pixels

    def counted_keep(self, pixels):
        earlier = taken.pop(threading.get_ident(), None)
        lutcli.processing.reused += earlier is not None and np.shares_memory(pixels, earlier)
        keep(self, pixels)

    lutcli.processing.reused = 0
    lutcli.processing.unwrapped = (take, keep)
    buffers.take, buffers.keep = counted_take, counted_keep


def _stop_counting() -> int:
    buffers = lutcli.processing.DecodeBuffers
    buffers.take, buffers.keep = lutcli.processing.unwrapped
    return lutcli.processing.reused


def test_each_worker_decodes_a_photo_into_the_pixels_of_its_last(tmp_path, client, look):
    source = tmp_path / "in"
    source.mkdir()
    rng = np.random.default_rng(1)
    for index in range(6):  # color JPEGs of one size: each can take the one before's pixels
        pixels = rng.integers(0, 256, (24, 32, 3), np.uint8)
        assert cv2.imwrite(str(source / f"p{index}.jpg"), pixels)
    expected = single_machine(look, source, tmp_path / "one")
    client.run(_count_reused_pixels)
    try:
        jobs = plan_jobs(source, tmp_path / "cluster", False).jobs
        assert process_jobs_on_cluster(client, look, jobs).written == 6
    finally:
        reused = client.run(_stop_counting)
    # Every photo but each worker's first (two workers of one thread).
    assert sum(reused.values()) >= 6 - len(reused), reused
    assert outputs(tmp_path / "cluster") == expected


def test_a_bad_photo_is_named_and_the_rest_are_done_and_a_rerun_does_only_what_is_missing(
    tmp_path, client, look
):
    source = photos(tmp_path / "in")
    (source / "broken.jpg").write_bytes(b"not a photo")
    jobs = plan_jobs(source, tmp_path / "out", False).jobs
    summary = process_jobs_on_cluster(client, look, jobs)
    assert summary.written == 6
    [(failed, message)] = summary.failed
    assert failed == source / "broken.jpg" and f"'{source / 'broken.jpg'}'" in message
    assert len(outputs(tmp_path / "out")) == 6

    (tmp_path / "out" / "p3.jpg").unlink()
    seen = []
    summary = process_jobs_on_cluster(
        client, look, jobs, on_done=lambda job, outcome, message: seen.append((job, outcome))
    )
    assert (summary.written, summary.skipped, len(summary.failed)) == (1, 5, 1)
    assert [job.source.name for job, outcome in seen if outcome == "written"] == ["p3.jpg"]


def test_only_a_window_of_photos_is_in_flight(tmp_path, client, look):
    """Millions of photos are never handed to the scheduler at once: at most ``in_flight``."""

    class Counting:
        def __init__(self) -> None:
            self.submitted = self.done = self.most = 0

        def __getattr__(self, name):
            return getattr(client, name)

        def submit(self, *args, **kwargs):
            self.submitted += 1
            self.most = max(self.most, self.submitted - self.done)
            return client.submit(*args, **kwargs)

    counting = Counting()
    jobs = plan_jobs(photos(tmp_path / "in", 8), tmp_path / "out", False).jobs

    def on_done(job: Job, outcome: str, message: str) -> None:
        counting.done += 1

    summary = process_jobs_on_cluster(counting, look, jobs, on_done=on_done, in_flight=3)
    assert summary.written == 8 and counting.submitted == 8 and counting.most == 3


def slow_on(name: str, marker: Path) -> None:
    """On a worker: processing the photo ``name`` writes this process's id to ``marker`` and
    hangs (the first time only; a worker that starts later is not slowed)."""
    processing = importlib.import_module("lutcli.processing")
    process_image = processing.process_image

    def slow(look, job, *args, **kwargs):
        if job.source.name == name and not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(120)
        return process_image(look, job, *args, **kwargs)

    slow.original = process_image
    processing.process_image = slow


def crash_on(name: str) -> None:
    """On a worker: processing the photo ``name`` ends the process at once (as the kernel's
    out-of-memory killer would)."""
    processing = importlib.import_module("lutcli.processing")
    process_image = processing.process_image

    def crash(look, job, *args, **kwargs):
        if job.source.name == name:
            os._exit(1)
        return process_image(look, job, *args, **kwargs)

    crash.original = process_image
    processing.process_image = crash


def restore_process_image() -> None:
    processing = importlib.import_module("lutcli.processing")
    processing.process_image = getattr(processing.process_image, "original", None) or (
        processing.process_image
    )


def test_a_worker_killed_mid_run_loses_nothing(tmp_path, client, look):
    """The worker processing a photo dies (SIGKILL): that photo is redone by another worker,
    every output is there and whole, the same bytes as on one machine, no temporary file."""
    source = photos(tmp_path / "in", extra=("slow.png",))
    expected = single_machine(look, source, tmp_path / "one")
    marker = tmp_path / "slow-worker-pid"
    client.run(slow_on, "slow.png", marker)
    killed = []

    def kill_the_slow_worker() -> None:
        deadline = time.monotonic() + 60
        while not marker.exists() or not marker.read_text():
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        killed.append(int(marker.read_text()))
        os.kill(killed[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_the_slow_worker)
    killer.start()
    try:
        jobs = plan_jobs(source, tmp_path / "cluster", False).jobs
        summary = process_jobs_on_cluster(client, look, jobs)
    finally:
        killer.join()
        client.run(restore_process_image)
    assert killed, "the slow photo never started"
    # The photo that the killed worker had just finished may be done again elsewhere, had its
    # result not reached the client yet; it is then counted as there already.
    assert (summary.written + summary.skipped, summary.failed) == (7, [])
    assert outputs(tmp_path / "cluster") == expected
    assert not temp_files(tmp_path)


def test_a_photo_that_kills_its_workers_is_named_and_the_rest_are_done(
    tmp_path, client, look, monkeypatch
):
    """A photo whose worker dies each time (here: at once, Dask's allowed-failures set to 0)
    fails with a reason, and the other photos are written."""
    monkeypatch.setattr(client.cluster.scheduler, "allowed_failures", 0)
    source = photos(tmp_path / "in", extra=("crash.png",))
    jobs = plan_jobs(source, tmp_path / "out", False).jobs
    client.run(crash_on, "crash.png")
    try:  # one photo at a time: Dask also fails the photos queued on a worker that dies
        summary = process_jobs_on_cluster(client, look, jobs, in_flight=1)
    finally:
        client.run(restore_process_image)
    assert summary.written == 6
    [(failed, message)] = summary.failed
    assert failed == source / "crash.png"
    assert message.startswith(f"cannot process '{failed}': the workers processing it stopped")
    assert not temp_files(tmp_path)


def test_urls_in_and_out_run_on_the_cluster(tmp_path, client, look):
    """fsspec URLs on the workers (file:// here; s3:// needs s3fs on them)."""
    source = photos(tmp_path / "in")
    expected = single_machine(look, source, tmp_path / "one")
    jobs = plan_jobs(f"file://{source}", f"file://{tmp_path}/out", False).jobs
    summary = process_jobs_on_cluster(client, look, jobs)
    assert (summary.written, summary.failed) == (6, [])
    assert outputs(tmp_path / "out") == expected
    assert not temp_files(tmp_path)


def test_workers_with_another_lutcli_are_refused(client, monkeypatch):
    check_workers(client)
    monkeypatch.setattr(lutcli, "__version__", "0.0.0")
    with pytest.raises(LutcliError, match=r"run lutcli .*, this is 0\.0\.0: install the same"):
        check_workers(client)


def test_a_look_that_workers_cannot_build_stops_the_run_with_its_reason(tmp_path, client):
    broken = LookFile("model", "look.pt", b"not a model", "trilinear")
    jobs = plan_jobs(photos(tmp_path / "in", 1), tmp_path / "out", False).jobs
    with pytest.raises(LutcliError, match="not a lutcli model file"):
        process_jobs_on_cluster(client, broken, jobs)
    assert not (tmp_path / "out").exists()
