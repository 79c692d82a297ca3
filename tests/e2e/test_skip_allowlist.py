"""The e2e suite's rule on skips (skip_allowlist.py), on a throwaway suite run
by a real pytest: an unlisted skip, or a listed test skipping for another
reason, fails the run and is named; listed skips pass."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SUITE = '''
import pytest

@pytest.mark.skipif(True, reason="no such device here")
@pytest.mark.parametrize("n", [1, 2])
def test_device(n):
    pass

def test_engine():
    pytest.skip("engine missing")

def test_runs():
    pass
'''

CONFTEST = '''
import os
from pathlib import Path
from skip_allowlist import SkipAllowlist

def pytest_configure(config):
    config.pluginmanager.register(SkipAllowlist(Path(os.environ["AKIDB_ALLOWED_SKIPS"]),
                                                Path(__file__).resolve().parent), "skip_allowlist")
'''


def run_suite(tmp_path: Path, allowed: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "allowed.txt").write_text(allowed)
    env = {**os.environ, "AKIDB_ALLOWED_SKIPS": str(tmp_path / "allowed.txt"), "PYTHONPATH": str(HERE)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_an_unlisted_skip_fails_the_run_and_is_named(tmp_path):
    r = run_suite(tmp_path, "# comment\ntest_suite.py::test_device[*]  no such device here\n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "1 skip(s) not allowed by" in r.stdout
    assert "  test_suite.py::test_engine: engine missing" in r.stdout
    assert "test_device" not in r.stdout.split("not allowed by", 1)[1].split("\n= ", 1)[0]


def test_a_listed_test_skipping_for_another_reason_fails(tmp_path):
    r = run_suite(tmp_path, "test_suite.py::test_device[*]  another reason\n"
                            "test_suite.py::test_engine  engine missing\n")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "2 skip(s) not allowed by" in r.stdout
    assert "  test_suite.py::test_device[1]: no such device here" in r.stdout
    assert "  test_suite.py::test_device[2]: no such device here" in r.stdout


def test_listed_skips_pass(tmp_path):
    r = run_suite(tmp_path, "test_suite.py::test_device[*]  no such device here\n"
                            "test_suite.py::test_engine  engine missing\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 passed, 3 skipped" in r.stdout and "not allowed" not in r.stdout


def test_a_malformed_line_is_a_usage_error(tmp_path):
    r = run_suite(tmp_path, "test_suite.py::test_engine\n")
    assert r.returncode == 4, r.stdout + r.stderr
    assert "allowed.txt:1: expected `PATTERN  REASON`, got 'test_suite.py::test_engine'" in r.stdout + r.stderr
