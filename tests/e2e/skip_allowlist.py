"""The e2e suite's rule on skips (scripts/test.sh's e2e stage sets
AKIDB_ALLOWED_SKIPS=tests/e2e/allowed_skips.txt): a test may skip only where
that file lists it with the very reason it skips for; any other skip fails
the run, so a test that silently stops running (a missing engine, a missing
build directory) is caught instead of counted as green.

allowed_skips.txt: one entry a line, `PATTERN  REASON` (two or more spaces
between), PATTERN the test's id relative to tests/e2e, where `*` matches any
characters (`test_devices.py::test_name[*]`; nothing else is special), REASON
the skip's reason exactly; `#` starts a comment line. Without
AKIDB_ALLOWED_SKIPS nothing is checked (tests/e2e/test_skip_allowlist.py).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest


def load(path: Path) -> list[tuple[str, str]]:
    entries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        if len(parts) != 2:
            raise pytest.UsageError(f"{path}:{n}: expected `PATTERN  REASON`, got {line!r}")
        entries.append((parts[0], parts[1]))
    return entries


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skipped report gives (pytest's longrepr is (file, line, "Skipped: REASON"))."""
    message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    return message.removeprefix("Skipped: ")


def matches(pattern: str, test: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), test) is not None


def unlisted(skips: list[tuple[str, str]], allowed: list[tuple[str, str]]) -> list[str]:
    """The skips no entry allows, as `ID: REASON` lines."""
    return [f"{test}: {reason}" for test, reason in skips
            if not any(matches(pattern, test) and reason == why for pattern, why in allowed)]


class SkipAllowlist:
    """A pytest plugin (conftest.py registers it): collects the skips of a run
    and fails the run on any that is not allowed."""

    def __init__(self, allowlist: Path, suite: Path):
        self.allowed = load(allowlist)
        self.allowlist = allowlist
        self.suite = suite
        self.skips: list[tuple[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            path, _, name = report.nodeid.partition("::")
            test = f"{Path(report.fspath).resolve().relative_to(self.suite).as_posix()}::{name}" if name else path
            self.skips.append((test, skip_reason(report)))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        bad = unlisted(self.skips, self.allowed)
        if not bad:
            return
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.ensure_newline()
        reporter.write_line(f"{len(bad)} skip(s) not allowed by {self.allowlist} (a skip there needs "
                            "its test and its exact reason listed):", red=True)
        for line in bad:
            reporter.write_line(f"  {line}", red=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
