"""Smoke tests of the container image (make test-container): it serves the
default model as a non-root user, its HEALTHCHECK passes, answers match the
golden vectors, configuration comes from AKIDB_* variables and SIGTERM stops
it cleanly."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("AKIDB_IMAGE", "localhost/akidb-embed:latest")
ENV = {**os.environ, "CONTAINERS_CONF": str(ROOT / "deploy" / "containers.conf")}
PODMAN = ["podman", "--cgroup-manager=cgroupfs", "--runtime=runc"]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, env=ENV,
                          timeout=300, check=check)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def container():
    port = free_port()
    name = f"akidb-smoke-{os.getpid()}"
    podman("run", "-d", "--name", name, "--network", "host", "-e", f"AKIDB_PORT={port}",
           "-e", "AKIDB_HOST=127.0.0.1", "-e", "AKIDB_THREADS=2", IMAGE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            state = podman("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
            assert state == "true", podman("logs", name, check=False).stdout
            assert time.monotonic() < deadline, "container not healthy after 120 s"
            time.sleep(0.2)
        yield name, url
    finally:
        podman("rm", "-f", name, check=False)


def test_image_is_small():
    size = int(podman("image", "inspect", "-f", "{{.Size}}", IMAGE).stdout.strip())
    assert size <= 250 * 1000 * 1000, f"image is {size / 1e6:.0f} MB"


def test_runs_as_non_root(container):
    name, _ = container
    assert podman("exec", name, "id", "-u").stdout.strip() != "0"


def test_healthcheck_passes(container):
    name, _ = container
    assert podman("healthcheck", "run", name, check=False).returncode == 0


def test_embeddings_match_golden(container):
    _, url = container
    golden = ROOT / "tests" / "data" / "golden"
    texts = [json.loads(l)["text"] for l in (golden / "texts.jsonl").read_text().splitlines()][:16]
    want = np.fromfile(golden / "vectors.f32", dtype="<f4").reshape(-1, 384)[:16]
    r = requests.post(url + "/v1/embeddings", json={"input": texts}, timeout=60)
    assert r.status_code == 200, r.text
    got = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)
    assert got.shape == (16, 384)
    assert (got * want).sum(axis=1).min() >= 0.9999


def test_info_reports_the_default_variant(container):
    _, url = container
    info = requests.get(url + "/info", timeout=10).json()
    assert info["variant"] == "opt" and info["dimension"] == 384


def test_sigterm_stops_cleanly(container):
    name, _ = container
    podman("stop", "-t", "30", name)
    assert podman("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"
