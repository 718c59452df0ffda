"""CI cannot pass by skipping (tests/conftest.py): with CI=true a skipped test fails and names
its reason; only a test marked `gpu` may skip, where torch sees no CUDA GPU."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest
import torch

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
RULE = "skipped, but CI (CI=true) runs every test but `gpu` ones without a CUDA GPU"

TESTS = """
import pytest

def test_passes():
    pass

def test_skips_itself():
    pytest.skip("ffmpeg is not installed")

@pytest.mark.skipif(True, reason="OpenColorIO is missing")
def test_skipped_by_a_mark():
    pass

@pytest.mark.gpu
def test_on_the_gpu():
    pass

@pytest.mark.xfail(reason="a known bug")
def test_a_known_bug():
    assert False
"""


def the_rules() -> ModuleType:
    """tests/conftest.py as a plugin module of its own name, for runs inside this test."""
    spec = importlib.util.spec_from_file_location("lutcli_test_rules", CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """Run pytest on the given test files under the project's rules, with or without CI and a
    CUDA GPU."""
    pytester.makeini("[pytest]\nmarkers =\n    gpu: needs a real CUDA GPU\n")

    def run_tests(ci: bool, gpu: bool, **files: str) -> pytest.RunResult:
        monkeypatch.delenv("CI", raising=False)
        if ci:
            monkeypatch.setenv("CI", "true")
        monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
        pytester.makepyfile(**files)
        return pytester.runpytest("-p", "no:cacheprovider", "-rA", plugins=[the_rules()])

    return run_tests


def test_in_ci_a_skipped_test_fails_and_names_its_reason(run):
    result = run(ci=True, gpu=False, test_sample=TESTS)
    # A skip in the test fails it; a skip mark fails its setup (an error).
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert f"FAILED test_sample.py::test_skips_itself - test {RULE}: ffmpeg is not" in output
    assert f"ERROR test_sample.py::test_skipped_by_a_mark - test {RULE}: OpenColorIO" in output
    # The one exception: a gpu test, skipped because torch sees no CUDA GPU.
    assert re.search(
        r"SKIPPED \[1\] test_sample.py:\d+: needs a real CUDA GPU; torch sees none", output
    )


def test_outside_ci_skips_stay_skips(run):
    result = run(ci=False, gpu=False, test_sample=TESTS)
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_with_a_gpu_a_gpu_test_runs_and_may_not_skip(run):
    gpu_tests = (
        TESTS + '\n@pytest.mark.gpu\ndef test_skips_on_the_gpu():\n    pytest.skip("no cuDNN")\n'
    )
    result = run(ci=True, gpu=True, test_sample=gpu_tests)
    result.assert_outcomes(passed=2, failed=2, errors=1, xfailed=1)
    assert f"FAILED test_sample.py::test_skips_on_the_gpu - test {RULE}: no cuDNN" in (
        result.stdout.str()
    )


def test_in_ci_a_file_skipped_at_import_fails(run):
    missing = 'import pytest\n\npytest.importorskip("no_such_module")\n\ndef test_x():\n    pass\n'
    result = run(ci=True, gpu=False, test_missing=missing)
    result.assert_outcomes(errors=1)
    assert result.ret != pytest.ExitCode.OK
    assert f"ERROR test_missing.py - test_missing.py {RULE}: could not import 'no_such_module'" in (
        result.stdout.str()
    )
