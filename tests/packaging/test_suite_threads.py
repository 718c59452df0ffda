"""The suite's workers share the cores (tests/conftest.py): each pytest-xdist worker's OpenMP
teams, torch's included, get the cores divided by the workers, unless OMP_NUM_THREADS says
otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from lutcli.kernels.cpu import cpu_count

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

WORKER_TEST = """
import os

import torch


def test_threads(worker_id):
    assert worker_id.startswith("gw")  # run by an xdist worker
    assert os.environ.get("OMP_NUM_THREADS") == EXPECTED
    assert torch.get_num_threads() == int(EXPECTED)
"""


@pytest.mark.parametrize("set_by_user", [False, True])
def test_each_worker_gets_its_share_of_the_cores(pytester, monkeypatch, set_by_user):
    share = str(max(1, cpu_count() // 2))
    expected = ("1" if share != "1" else "2") if set_by_user else share
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if set_by_user:  # a value that is not the share: kept
        monkeypatch.setenv("OMP_NUM_THREADS", expected)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(test_worker=WORKER_TEST.replace("EXPECTED", repr(expected)))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
