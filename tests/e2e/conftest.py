"""Fixtures that run the real `akidb-embed serve` on a free loopback port.

The binary comes from AKIDB_BINARY (default build/akidb-embed) and the model
from AKIDB_MODEL_DIR (default models/all-MiniLM-L6-v2). A server counts as up
once GET /health answers 200 (no sleeping); teardown sends SIGTERM and, if
the process does not exit, kills it.
"""
from __future__ import annotations

import os
from pathlib import Path
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

from helpers import BINARY, MODEL_DIR
from skip_allowlist import SkipAllowlist


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `akidb-embed serve` process."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, model: Path | str | None = MODEL_DIR):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()
        models = ["--model", str(model)] if model is not None else []  # None: args name the models
        cmd = [str(BINARY), "serve", *models, "--port", str(self.port), *args]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or a loaded machine answering slowly
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"server not healthy after {timeout}s: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def terminate(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"server did not exit {timeout}s after SIGTERM: {self.output()}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="session")
def server():
    """The default server, shared by the tests that do not need special flags."""
    s = Server()
    yield s
    assert s.terminate() == 0, s.output()


@pytest.fixture
def start_server():
    """Factory for servers with their own flags; all are stopped at teardown."""
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None, model: Path | str | None = MODEL_DIR) -> Server:
        s = Server(*args, env=env, model=model)
        started.append(s)
        return s

    yield start
    for s in started:
        s.terminate()


def pytest_configure(config):
    # The rule on skips (skip_allowlist.py): active when AKIDB_ALLOWED_SKIPS names the list.
    if os.environ.get("AKIDB_ALLOWED_SKIPS"):
        config.pluginmanager.register(SkipAllowlist(Path(os.environ["AKIDB_ALLOWED_SKIPS"]).resolve(),
                                                    Path(__file__).resolve().parent), "skip_allowlist")
