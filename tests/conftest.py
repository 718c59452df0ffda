"""Shared fixtures (the devices to test on, a seeded generator), each pytest-xdist worker's
share of the cores, and the rule that CI cannot pass by skipping.

With CI=true, a skipped test is a failure that names the skip's reason: a missing compiled
kernel, ffmpeg, OpenColorIO or test dependency must break CI, not hide in a skip count. The one
exception is a test marked ``gpu`` (it needs a real CUDA GPU), which is skipped wherever torch
sees none; CI machines have none.
"""

from __future__ import annotations

import os

# Each pytest-xdist worker gets its share of the cores for the OpenMP teams of torch and of the
# kernels, and the programs a test starts inherit it: worker processes whose teams each span
# every core spin against each other at every barrier (a training ran 8x slower on 2 cores).
# Set before torch loads, which reads it once (so the cores are counted here, not by
# lutcli.kernels.cpu.cpu_count, whose import loads OpenMP with the kernels).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (_CORES or 1) // _WORKERS)))

import pytest  # noqa: E402 (after the thread setting)
import torch  # noqa: E402

# pytester runs the tests of the no-skip rule itself (tests/packaging/test_ci_no_skip.py).
pytest_plugins = ["pytester"]

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
NO_GPU = "needs a real CUDA GPU; torch sees none"


def in_ci() -> bool:
    """Whether this run is CI's (CI=true), where every test must run."""
    return os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the ``slow`` tests first: spread over several workers (``make test``), the long
    trainings start at once and the quick tests fill the other cores around them. Skip the tests
    marked ``gpu`` where there is no CUDA GPU: the no-skip rule's one exception."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: order kept
    if not torch.cuda.is_available():
        for item in items:
            if item.get_closest_marker("gpu") is not None:
                item.add_marker(pytest.mark.skip(reason=NO_GPU))


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a skipped report gives (pytest keeps it as (path, line, 'Skipped: reason'))."""
    if isinstance(report.longrepr, tuple):
        return report.longrepr[2].removeprefix("Skipped: ")
    return str(report.longrepr)


def _fail_the_skip(report: pytest.TestReport | pytest.CollectReport, what: str) -> None:
    report.outcome = "failed"
    report.longrepr = (
        f"{what} skipped, but CI (CI=true) runs every test but `gpu` ones without a CUDA GPU: "
        + _skip_reason(report)
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """In CI, a skipped test becomes a failure naming the reason, unless it is a `gpu` test
    on a machine without a CUDA GPU."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and in_ci()) or hasattr(report, "wasxfail"):
        return
    if item.get_closest_marker("gpu") is not None and not torch.cuda.is_available():
        return
    _fail_the_skip(report, "test")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """In CI, a whole file skipped at import (pytest.importorskip, a module-level skip) fails."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci():
        _fail_the_skip(report, collector.nodeid or "a test file")


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True, scope="session")
def _cache_of_the_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    """lutcli's caches (prepared training pairs, teacher outputs) go to a folder of this run,
    never to the user's ~/.cache; command-line runs in subprocesses inherit it."""
    os.environ["LUTCLI_CACHE"] = str(tmp_path_factory.mktemp("lutcli-cache"))
