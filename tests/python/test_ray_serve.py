"""akidb_embed.ray_serve on a local Ray (num_cpus=2), from the installed
wheel: the deployment answers /v1/embeddings with Embedder's vectors, bad
input is a 400 naming the problem, and load scales it from 1 to 2 replicas
(autoscaling on ongoing requests)."""
from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import TEXTS

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray  # noqa: E402  (python/requirements-scale.txt; the wheel stage installs it)
from ray import serve  # noqa: E402

from akidb_embed import ray_serve  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def url(model_dir):
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(ray_serve.app(str(model_dir), threads=1, min_replicas=1, max_replicas=2,
                            target_ongoing_requests=1, upscale_delay_s=0.5, downscale_delay_s=600),
              name="akidb")
    yield f"http://127.0.0.1:{port}/v1/embeddings"
    serve.shutdown()
    ray.shutdown()


def post(url: str, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_vectors_equal_the_embedders(url, embedder):
    status, body = post(url, {"input": TEXTS})
    assert status == 200, body
    assert [d["index"] for d in body["data"]] == list(range(len(TEXTS)))
    got = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    np.testing.assert_array_equal(got, embedder.encode(TEXTS, batch_size=len(TEXTS)))
    status, body = post(url, {"input": TEXTS[1]})
    assert status == 200 and len(body["data"]) == 1 and body["model"] == "all-MiniLM-L6-v2"


def test_bad_input_is_a_400_naming_it(url):
    status, body = post(url, {"input": ["fine", 3]})
    assert status == 400 and body["error"]["type"] == "invalid_input"
    assert body["error"]["message"] == "input 1 is int, not a string"
    status, body = post(url, {"input": []})
    assert status == 400 and "non-empty list" in body["error"]["message"]
    status, body = post(url, b"not json")
    assert status == 400 and body["error"]["type"] == "invalid_input"
    # The library's own check (a lone surrogate is not UTF-8): a 400 for this request only.
    status, body = post(url, {"input": ["fine", "lone \udc80 surrogate"]})
    assert status == 400 and body["error"]["type"] == "invalid_input", body
    assert "input 1" in body["error"]["message"]
    assert post(url, {"input": ["fine"]})[0] == 200


def test_load_scales_to_two_replicas(url):
    texts = [f"sentence {i} about load and replicas, long enough to take a while" for i in range(64)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def client() -> None:
        while not stop.is_set():
            try:
                status, _ = post(url, {"input": texts})
                assert status == 200
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return

    clients = [threading.Thread(target=client) for _ in range(6)]
    for c in clients:
        c.start()
    deadline = time.monotonic() + 120
    replicas = 1
    while time.monotonic() < deadline and replicas < 2:
        time.sleep(0.5)
        status = serve.status().applications["akidb"].deployments["akidb-embed"]
        replicas = status.replica_states.get("RUNNING", 0)
    stop.set()
    for c in clients:
        c.join()
    assert not errors, errors
    assert replicas == 2, f"still {replicas} replica(s) after 120 s of 6 concurrent clients"
