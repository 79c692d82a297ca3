"""The server under concurrency and overload: batching really forms and
changes no vector, a full queue answers 503 and recovers, SIGTERM during load
finishes what is in flight and exits 0, auth, and the request timeout."""
from __future__ import annotations

import csv
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openai
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import STSB_DIR


def sentences(n: int) -> list[str]:
    """STS-B test sentences of mixed lengths (a few built longer ones too)."""
    out = []
    with open(STSB_DIR / "stsb-en-test.csv", encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            out += [row[0], row[1]]
            if len(out) >= n:
                break
    for i in range(0, len(out), 7):
        out[i] = " ".join([out[i]] * (1 + i % 5))
    return out[:n]


def embed(session: requests.Session, url: str, texts, **extra):
    r = session.post(url + "/v1/embeddings", json={"input": texts, **extra}, timeout=60)
    r.raise_for_status()
    return np.array([d["embedding"] for d in r.json()["data"]])


def metric(url: str, family: str, sample: str, labels: dict | None = None) -> float:
    text = requests.get(url + "/metrics", timeout=10).text
    for f in text_string_to_metric_families(text):
        if f.name == family:
            for s in f.samples:
                if s.name == sample and (labels is None or s.labels == labels):
                    return s.value
    raise KeyError((family, sample, labels))


def test_concurrent_clients_match_single_requests_and_batch(server):
    texts = sentences(96)
    with requests.Session() as s:
        single = {t: embed(s, server.url, t)[0] for t in texts}
    batches_before = metric(server.url, "akidb_batch_size", "akidb_batch_size_count")
    alone_before = metric(server.url, "akidb_batch_size", "akidb_batch_size_bucket", {"model": "all-MiniLM-L6-v2", "le": "1"})

    def client(k: int) -> float:
        worst = 1.0
        with requests.Session() as s:
            for j in range(4):
                mine = [texts[(k * 4 + j + m) % len(texts)] for m in range(1 + (k + j) % 3)]
                got = embed(s, server.url, mine)
                for t, v in zip(mine, got):
                    worst = min(worst, float(np.dot(v, single[t])))
                    assert np.abs(v - single[t]).max() <= 1e-5
        return worst

    with ThreadPoolExecutor(64) as pool:
        worst = min(pool.map(client, range(64)))
    assert worst >= 0.99999
    batches = metric(server.url, "akidb_batch_size", "akidb_batch_size_count") - batches_before
    alone = metric(server.url, "akidb_batch_size", "akidb_batch_size_bucket", {"model": "all-MiniLM-L6-v2", "le": "1"}) - alone_before
    assert batches > 0 and batches - alone > 0, "no batch with more than one request formed"
    assert batches < 256, "every request ran on its own"


def test_full_queue_answers_429_then_recovers(start_server):
    s = start_server("--max-queue", "2", "--max-batch-sequences", "1")
    long_text = " ".join(["the queue fills up with long inputs"] * 40)
    statuses, retry_after = [], []

    def hit(_):
        r = requests.post(s.url + "/embed", json={"inputs": [long_text] * 8}, timeout=60)
        statuses.append(r.status_code)
        if r.status_code == 429:  # TEI's "overloaded" on TEI's routes (503 on /v1/embeddings)
            retry_after.append(r.headers.get("Retry-After"))
            assert "queue is full" in r.json()["error"] and r.json()["error_type"] == "overloaded"

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(hit, range(32)))
    assert 429 in statuses and 200 in statuses, statuses
    assert set(statuses) <= {200, 429}
    assert all(retry_after)
    assert metric(s.url, "akidb_queue_rejected", "akidb_queue_rejected_total") == statuses.count(429)
    r = requests.post(s.url + "/embed", json={"inputs": "recovered"}, timeout=30)
    assert r.status_code == 200


def test_sigterm_during_load_finishes_in_flight_and_exits_0(start_server):
    s = start_server()
    text = " ".join(["requests keep coming while the server stops"] * 10)
    results: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def client():
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    r = session.post(s.url + "/embed", json={"inputs": [text] * 4}, timeout=30)
                    results.append(r.status_code)
                except requests.ConnectionError as e:  # refused or closed once stopping
                    errors.append(type(e).__name__)
                    return

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(results) < 16 and time.monotonic() < deadline:
        time.sleep(0.01)
    code = s.terminate(timeout=30)
    stop.set()
    for t in threads:
        t.join(30)
    assert code == 0, s.output()
    assert results and set(results) == {200}, results  # nothing in flight failed
    assert "stopped" in s.output()


def test_api_key(start_server):
    s = start_server("--api-key", "s3cret")
    assert requests.get(s.url + "/health", timeout=5).status_code == 200
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}]:
        r = requests.post(s.url + "/v1/embeddings", json={"input": "x"}, headers=headers, timeout=5)
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert requests.get(s.url + "/metrics", headers=headers, timeout=5).status_code == 401
    ok = openai.OpenAI(base_url=s.url + "/v1", api_key="s3cret", max_retries=0)
    assert len(ok.embeddings.create(model="m", input="x").data[0].embedding) == 384
    bad = openai.OpenAI(base_url=s.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.embeddings.create(model="m", input="x")


def test_api_key_from_environment_and_request_timeout(start_server):
    s = start_server("--request-timeout-ms", "1", env={"AKIDB_API_KEY": "envkey"})
    auth = {"Authorization": "Bearer envkey"}
    assert requests.post(s.url + "/embed", json={"inputs": "x"}, timeout=5).status_code == 401
    big = [" ".join(["a timeout needs a request that takes a while"] * 30)] * 32
    with ThreadPoolExecutor(3) as pool:  # the first runs; the others time out in the queue
        replies = list(pool.map(
            lambda _: requests.post(s.url + "/embed", json={"inputs": big}, headers=auth, timeout=60),
            range(3)))
    timeouts = [r for r in replies if r.status_code == 504]
    assert timeouts and all(r.json()["error_type"] == "overloaded" for r in timeouts)
    assert {r.status_code for r in replies} <= {200, 504}
