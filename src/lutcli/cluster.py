"""Applying a look on a Dask cluster: the photos of a run spread over the cluster's workers.

This module only distributes: each photo is processed by ``lutcli.processing.run_job``, as on
one machine, so a cluster run keeps the same guarantees (an input is never overwritten, an
output is whole or absent, a failed photo is named and the rest done, an output already there
is skipped unless asked to overwrite). Dask distributed runs on a laptop (``LocalCluster``) as
on Kubernetes, Slurm, YARN or cloud machines; a worker that dies has its photos redone by the
others.

- The look travels as its file's bytes (``LookFile``) in a worker plugin: every worker, also one
  that joins or restarts later, builds it once; the file need not be visible to the workers.
- Photos stream: only a bounded window of tasks is in flight at a time, never the whole list,
  so the client's and the scheduler's memory do not grow with the folder.
- Plain paths must name the same files on every worker (shared storage mounted at the same
  place); fsspec URLs (``s3://…``) need the matching backend on the workers.

Importing this module needs Dask distributed (``pip install 'lutcli[cluster]'``); without it
the import is a one-line LutcliError.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import lutcli
from lutcli.clip_settings import DEFAULT_CLIP_SETTINGS, ClipSettings
from lutcli.errors import LutcliError
from lutcli.fileutil import remove_stale_temp_files
from lutcli.looks import LookFile
from lutcli.processing import DecodeBuffers, Job, Summary, cores_per_job, is_done, run_job

try:
    from distributed import Client, Future, KilledWorker, LocalCluster, WorkerPlugin, as_completed
    from distributed import get_worker as _get_worker
except ImportError as error:  # the CLI imports this module only for --cluster
    raise LutcliError(
        f"--cluster needs Dask distributed ({error}): pip install 'lutcli[cluster]'"
    ) from None

# The address that asks for a cluster of worker processes on this machine.
LOCAL = "local"
# Seconds to reach a scheduler before giving up with an error.
CONNECT_TIMEOUT = 30
# Tasks in flight for each thread of the cluster's workers: one running, one waiting to start.
TASKS_PER_THREAD = 2
# Seconds between two looks at the cluster's size (a cluster may grow or shrink during a run).
RESIZE_INTERVAL = 5.0


@contextlib.contextmanager
def connect(address: str, workers: int | None = None) -> Iterator[Client]:
    """A client of the Dask scheduler at ``address`` (``tcp://host:8786``), or with ``LOCAL``
    of a new cluster of ``workers`` single-threaded worker processes on this machine (default:
    one per core), closed on leaving. Checks that the workers run this lutcli."""
    with contextlib.ExitStack() as stack:
        if address == LOCAL:
            from lutcli.kernels.cpu import cpu_count

            # Its scheduler and nannies run in this process: when a signal has ended the
            # workers, their closing connections are no news to a user (asyncio would print
            # "Future exception was never retrieved" with a traceback).
            stack.enter_context(_quiet_logger("asyncio"))
            cluster = LocalCluster(
                n_workers=workers or cpu_count(),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # The scheduler serves its health checks over HTTP even without a dashboard,
                # on port 8787 unless told otherwise; any free port, on this machine only, so
                # that a second run (or another Dask) is no reason for a warning.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.CRITICAL,  # lutcli reports what went wrong itself
                preload=[__name__],  # dask_setup: a Ctrl-C is the client's to handle
            )
            stack.enter_context(cluster)
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(address, timeout=CONNECT_TIMEOUT))
            except (OSError, ValueError, TypeError) as error:  # refused, timed out, a bad address
                reason = " ".join(str(error).split()) or type(error).__name__
                raise LutcliError(
                    f"cannot reach the Dask scheduler at '{address}': {reason}"
                ) from None
        check_workers(client)
        yield client


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Only critical messages from the logger ``name`` meanwhile."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def dask_setup(worker) -> None:
    """Run by the worker processes of a ``LOCAL`` cluster as they start: they ignore SIGINT.
    A Ctrl-C in the terminal reaches every process of the group; lutcli stops the run and
    closes the cluster, and the workers are not to print tracebacks of their own meanwhile."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def check_workers(client: Client) -> None:
    """Raise LutcliError unless every worker imports the lutcli of this client (the same
    version): a worker without it could not run a single photo."""
    try:
        versions = client.run(_lutcli_version)
    except Exception as error:  # whatever a worker fails with: most often, no lutcli there
        raise LutcliError(
            f"the Dask workers cannot run lutcli ({type(error).__name__}: {error}): install "
            f"lutcli {lutcli.__version__} on every worker"
        ) from None
    other = sorted({version for version in versions.values() if version != lutcli.__version__})
    if other:
        raise LutcliError(
            f"Dask workers run lutcli {', '.join(other)}, this is {lutcli.__version__}: install "
            "the same lutcli on every worker"
        )


def _lutcli_version() -> str:
    return lutcli.__version__


class LookPlugin(WorkerPlugin):
    """Carries a look's file to every worker, which builds the look once (``setup``), and
    sets how many cores each photo's LUT kernel gets there: the host's cores shared by the
    threads of all the workers on it (``threads_by_host``; a worker's own threads on a host
    that joined later). Each worker thread decodes a photo into its last one's pixels
    (``buffers``), as on one machine; they go with the plugin at the run's end."""

    def __init__(self, look: LookFile, device: str, threads_by_host: dict[str, int]) -> None:
        self.look_file = look
        self.device = device
        self.threads_by_host = threads_by_host
        self.look = None
        self.threads = 1
        self.buffers = DecodeBuffers()

    def setup(self, worker) -> None:
        import torch

        from lutcli.kernels.cuda import resolve_device

        host = urlsplit(worker.address).hostname
        self.threads = cores_per_job(self.threads_by_host.get(host, worker.state.nthreads))
        torch.set_num_threads(self.threads)  # an adaptive model's network: its share too
        self.look = self.look_file.open(resolve_device(self.device))


def _apply(
    plugin: str,
    job: Job,
    overwrite: bool,
    jpeg_quality: int,
    scale: float,
    max_pixels: int | None,
    clip_settings: ClipSettings,
) -> tuple[str, str]:
    """The task of one photo or clip on a worker: (outcome, message) as ``run_job`` gives
    them; an output already there is skipped (checked here, on the cluster, not file by file
    on the client)."""
    if is_done(job, overwrite):
        return "skipped", ""
    look = _get_worker().plugins[plugin]
    settings = (jpeg_quality, scale, look.threads, max_pixels, clip_settings)
    return run_job(look.look, job, overwrite, *settings, buffers=look.buffers)


def process_jobs_on_cluster(
    client: Client,
    look: LookFile,
    jobs: list[Job],
    overwrite: bool = False,
    jpeg_quality: int = 95,
    scale: float = 1.0,
    on_done: Callable[[Job, str, str], None] = lambda job, outcome, message: None,
    in_flight: int | None = None,
    max_pixels: int | None = None,
    device: str = "auto",
    clip_settings: ClipSettings = DEFAULT_CLIP_SETTINGS,
) -> Summary:
    """``lutcli.processing.process_jobs`` on the cluster of ``client``: the same outcomes,
    the same ``on_done`` calls on this thread as each photo is done, in the order they finish.

    At most ``in_flight`` photos are handed to the cluster at a time (default: two for each
    thread of its workers, looked at again as it grows or shrinks). A photo whose workers die
    while processing it (three times: Dask's ``allowed-failures``; a photo that crashes every
    worker it meets) fails with a message, and the rest go on. ``device``: where each worker
    runs the look ("auto": its own GPU when it has one). Clips are graded whole by one worker
    each, with ``clip_settings``.
    """
    summary = Summary()
    run = uuid.uuid4().hex[:12]
    plugin = f"lutcli-look-{run}"
    client.register_plugin(LookPlugin(look, device, _threads_by_host(client)), name=plugin)
    waiting = enumerate(jobs)
    running: dict[str, tuple[Future, Job]] = {}  # by the task's key
    window, resized = in_flight or _window(client), time.monotonic()

    def submit(index: int, job: Job) -> Future:
        future = client.submit(
            _apply,
            plugin,
            job,
            overwrite,
            jpeg_quality,
            scale,
            max_pixels,
            clip_settings,
            key=f"lutcli-apply-{run}-{index}",
            pure=False,
        )
        running[future.key] = future, job
        return future

    # Results are fetched as soon as each photo is done, not when this thread gets to them: a
    # result still held by a worker that dies is computed again, and the photo, written by
    # then, would be reported as there before the run.
    first = [submit(*item) for item in itertools.islice(waiting, window)]
    finished = as_completed(first, with_results=True, raise_errors=False)
    try:
        for future, result in finished:
            _, job = running.pop(future.key)
            try:
                outcome, message = result if future.status == "finished" else future.result()
            except KilledWorker:
                outcome = "failed"
                message = (
                    f"cannot process '{job.source}': the workers processing it stopped, again "
                    "and again (not enough memory? give the workers more, or use fewer)"
                )
            future.release()
            summary.record(job, outcome, message)
            on_done(job, outcome, message)
            if in_flight is None and time.monotonic() - resized > RESIZE_INTERVAL:
                window, resized = _window(client), time.monotonic()
            for item in itertools.islice(waiting, max(0, window - len(running))):
                finished.add(submit(*item))
    finally:  # on an error or an interrupt, photos not started stay unstarted
        finished.clear()
        client.cancel([future for future, _ in running.values()])
        with contextlib.suppress(Exception):
            client.unregister_worker_plugin(plugin)
    return summary


def remove_temp_files_left(jobs: list[Job]) -> None:
    """Remove what workers killed while writing left in the jobs' output folders: a temporary
    file, never a partial output. Those of this machine's dead processes go (other machines' go
    on their next write there); called once the cluster is closed, when its local workers are
    gone, not merely stopping."""
    for folder in {job.destination.parent for job in jobs if isinstance(job.destination, Path)}:
        remove_stale_temp_files(folder)


def _threads_by_host(client: Client) -> dict[str, int]:
    """The threads of all the workers on each host of the cluster."""
    threads: dict[str, int] = {}
    for worker in client.scheduler_info(n_workers=-1)["workers"].values():
        threads[worker["host"]] = threads.get(worker["host"], 0) + worker["nthreads"]
    return threads


def _window(client: Client) -> int:
    """Tasks to keep in flight: TASKS_PER_THREAD for each thread of the cluster's workers."""
    return TASKS_PER_THREAD * max(1, sum(client.nthreads().values()))
