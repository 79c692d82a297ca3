"""The sequence scheduler through the real server: a bulk request interleaves
with small ones, a client that hangs up and a request past its deadline stop
costing compute. Assertions are on order and counters, never on times."""
from __future__ import annotations

import json
import socket
import threading
import time

import numpy as np
import requests
from prometheus_client.parser import text_string_to_metric_families

LONG = " ".join(["the bulk request carries long passages of text for the model to read"] * 20)


def metric(url: str, name: str) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise KeyError(name)


def embed(url: str, texts) -> np.ndarray:
    r = requests.post(url + "/v1/embeddings", json={"input": texts}, timeout=300)
    assert r.status_code == 200, r.text
    return np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_small_requests_finish_before_the_bulk_request_and_match_alone(start_server):
    s = start_server("--request-timeout-ms", "300000")  # this machine may be busy: no 504 here
    small_texts = ["A man is playing a guitar.", "A cat sleeps.", "Rain again today.", "Hello there!"]
    bulk_texts = [f"{i} {LONG}" for i in range(64)]
    alone_small = {t: embed(s.url, t)[0] for t in small_texts}
    alone_bulk = embed(s.url, bulk_texts[:2])
    order: list[str] = []
    bulk_result: dict = {}

    def bulk():
        bulk_result["vectors"] = embed(s.url, bulk_texts)
        order.append("bulk")

    thread = threading.Thread(target=bulk)
    thread.start()
    assert wait_for(lambda: metric(s.url, "akidb_queue_sequences") > 0), "the bulk request never queued"
    got = {}
    for t in small_texts:
        got[t] = embed(s.url, t)[0]
        order.append("small")
    thread.join(300)
    assert order == ["small"] * len(small_texts) + ["bulk"], order
    for t in small_texts:
        assert np.abs(got[t] - alone_small[t]).max() <= 1e-5
    assert np.abs(bulk_result["vectors"][:2] - alone_bulk).max() <= 1e-5


def post_and_hang_up(port: int, texts) -> None:
    body = json.dumps({"input": texts}).encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.3)  # the request is admitted and its first batch runs


def test_client_that_hangs_up_cancels_its_remaining_inputs(start_server):
    s = start_server()
    before = metric(s.url, "akidb_sequences_cancelled_total")
    post_and_hang_up(s.port, [f"{i} {LONG}" for i in range(256)])
    assert wait_for(lambda: metric(s.url, "akidb_sequences_cancelled_total") > before), \
        "the vanished client's inputs were not cancelled"
    assert metric(s.url, "akidb_requests_cancelled_total") >= 1
    cancelled = metric(s.url, "akidb_sequences_cancelled_total") - before
    assert 200 <= cancelled <= 256, cancelled
    assert embed(s.url, "still serving").shape == (1, 384)


def test_expired_request_is_504_and_stops_costing_compute(start_server):
    s = start_server("--request-timeout-ms", "300")
    r = requests.post(s.url + "/v1/embeddings", json={"input": [f"{i} {LONG}" for i in range(256)]},
                      timeout=60)
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "timeout"
    assert wait_for(lambda: metric(s.url, "akidb_sequences_cancelled_total") > 0)
    assert metric(s.url, "akidb_sequences_cancelled_total") >= 200
    assert embed(s.url, "served after the expired request").shape == (1, 384)


def test_the_batch_wait_is_a_flag_and_a_lone_request_pays_it(start_server):
    s = start_server("--max-batch-wait-ms", "200")
    assert requests.get(s.url + "/info", timeout=10).json()["scheduling"]["max_batch_wait_ms"] == 200
    start = time.perf_counter()
    r = requests.post(s.url + "/v1/embeddings", json={"input": "alone"}, timeout=60)
    assert r.status_code == 200, r.text
    assert time.perf_counter() - start >= 0.2  # the worker waited for company first
