#!/usr/bin/env python3
"""End-to-end latency and load of a running `akidb-embed serve`, standard
library only (for bare GPU machines without wrk or requests): batch-1 P50/P95
of one short sentence over a keep-alive connection, then requests/s and P95
at a concurrency, one STS-B sentence per request.

    scripts/http_latency.py --url http://127.0.0.1:8080 --concurrency 64 --seconds 10
"""
from __future__ import annotations

import argparse
import csv
import http.client
import json
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]


def post(conn: http.client.HTTPConnection, text: str) -> float:
    body = json.dumps({"input": text})
    start = time.perf_counter()
    conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError(f"HTTP {resp.status}")
    return (time.perf_counter() - start) * 1e3


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q / 100 * len(s)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--sts", type=Path, default=ROOT / "data" / "stsb" / "stsb-en-test.csv")
    a = p.parse_args()
    u = urlparse(a.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for _ in range(20):
        post(conn, "A man is playing a guitar.")
    lat = [post(conn, "A man is playing a guitar.") for _ in range(a.requests)]
    with open(a.sts, newline="", encoding="utf-8") as f:
        sentences = [s for r in csv.reader(f) if len(r) >= 2 for s in r[:2]][:2000] or ["hello"]
    stop = time.monotonic() + a.seconds
    done: list[list[float]] = [[] for _ in range(a.concurrency)]

    def client(i: int) -> None:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        k = i
        while time.monotonic() < stop:
            done[i].append(post(c, sentences[k % len(sentences)]))
            k += a.concurrency

    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    loaded = [x for d in done for x in d]
    print(json.dumps({"batch1_short_p50_ms": pct(lat, 50), "batch1_short_p95_ms": pct(lat, 95),
                      "concurrency": a.concurrency, "requests_per_s": len(loaded) / elapsed,
                      "loaded_p50_ms": pct(loaded, 50), "loaded_p95_ms": pct(loaded, 95)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
