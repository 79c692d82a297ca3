#!/usr/bin/env python3
"""Fairness under mixed traffic, and compute lost to cancelled requests.

One run, one server (started here on a free loopback port):

  1. idle: a client sends one short sentence every 50 ms; its latencies.
  2. bulk alone: one request of --bulk inputs x ~256 tokens; its wall time.
  3. bulk + stream: the same bulk request while the short-sentence client
     keeps sending every 50 ms; both measured again.
  4. cancellation: a bulk request whose client hangs up after --hang-up-ms;
     the inference batches the server starts after that moment.

Goals (issue "engine seam and scheduler"): the stream's P95 under bulk load
<= 5x its idle P95; the bulk request's time within 10% of alone; at most one
more batch after a cancellation.

  .venv/bin/python bench/fairness.py --binary build/akidb-embed --model models/all-MiniLM-L6-v2
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
LONG = " ".join(["the bulk request carries long passages of text for the model to read"] * 20)
SHORT = "A man is playing a guitar on the stage."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(binary: str, model: str, extra: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # The bulk request may take minutes on a busy machine: no 504 for it.
    proc = subprocess.Popen([binary, "serve", "--model", model, "--port", str(port),
                             "--request-timeout-ms", "600000", *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "ORT_DISABLE_TELEMETRY": "1"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url + "/health", timeout=1).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("the server did not become healthy")


def metric(url: str, name: str) -> float:
    """The sample `name`, summed over its series (one per served model)."""
    found = [float(line.split()[-1]) for line in requests.get(url + "/metrics", timeout=10).text.splitlines()
             if line.startswith(name + " ") or line.startswith(name + "{")]
    if not found:
        raise KeyError(name)
    return sum(found)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def stream(url: str, stop: threading.Event, period: float, out: list[float], limit: int) -> None:
    """One short sentence every `period` seconds until stopped (or `limit` requests)."""
    with requests.Session() as session:
        next_at = time.monotonic()
        while not stop.is_set() and len(out) < limit:
            start = time.monotonic()
            r = session.post(url + "/v1/embeddings", json={"input": SHORT}, timeout=60)
            r.raise_for_status()
            out.append((time.monotonic() - start) * 1000)
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))


def bulk(url: str, n: int) -> float:
    start = time.monotonic()
    r = requests.post(url + "/v1/embeddings", json={"input": [f"{i} {LONG}" for i in range(n)]},
                      timeout=600)
    r.raise_for_status()
    return time.monotonic() - start


def hang_up(url: str, port: int, n: int, after_ms: int) -> dict:
    body = json.dumps({"input": [f"{i} {LONG}" for i in range(n)]}).encode()
    batches_before = metric(url, "akidb_batches_total")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(after_ms / 1000)
        at_hang_up = metric(url, "akidb_batches_total")
    time.sleep(1.0)
    after = metric(url, "akidb_batches_total")
    return {"batches_before_hang_up": at_hang_up - batches_before,
            "batches_after_hang_up": after - at_hang_up,
            "sequences_cancelled": metric(url, "akidb_sequences_cancelled_total")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build" / "akidb-embed"))
    ap.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--bulk", type=int, default=512, help="inputs of ~256 tokens in the bulk request")
    ap.add_argument("--period-ms", type=float, default=50)
    ap.add_argument("--idle-requests", type=int, default=100)
    ap.add_argument("--hang-up-ms", type=int, default=500)
    ap.add_argument("--server-arg", action="append", default=[], help="extra serve flag (repeatable)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()

    proc, url = start_server(args.binary, args.model, args.server_arg)
    port = int(url.rsplit(":", 1)[1])
    try:
        for _ in range(20):
            requests.post(url + "/v1/embeddings", json={"input": SHORT}, timeout=30)
        idle: list[float] = []
        stream(url, threading.Event(), args.period_ms / 1000, idle, args.idle_requests)
        bulk_alone = bulk(url, args.bulk)
        loaded: list[float] = []
        stop = threading.Event()
        client = threading.Thread(target=stream, args=(url, stop, args.period_ms / 1000, loaded, 10**9))
        client.start()
        bulk_loaded = bulk(url, args.bulk)
        stop.set()
        client.join()
        cancel = hang_up(url, port, args.bulk, args.hang_up_ms)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    result = {
        "idle_p50_ms": percentile(idle, 50), "idle_p95_ms": percentile(idle, 95),
        "loaded_p50_ms": percentile(loaded, 50), "loaded_p95_ms": percentile(loaded, 95),
        "loaded_requests": len(loaded),
        "bulk_alone_s": bulk_alone, "bulk_with_stream_s": bulk_loaded, **cancel,
    }
    result["p95_ratio"] = result["loaded_p95_ms"] / result["idle_p95_ms"]
    result["bulk_slowdown"] = bulk_loaded / bulk_alone
    print(f"short-sentence stream, one request every {args.period_ms:g} ms:")
    print(f"  idle        P50 {result['idle_p50_ms']:7.2f} ms  P95 {result['idle_p95_ms']:7.2f} ms")
    print(f"  under bulk  P50 {result['loaded_p50_ms']:7.2f} ms  P95 {result['loaded_p95_ms']:7.2f} ms"
          f"  ({len(loaded)} requests)   P95 ratio {result['p95_ratio']:.2f}x (goal <= 5x)")
    print(f"bulk request ({args.bulk} inputs x ~256 tokens): alone {bulk_alone:.2f} s, with the stream "
          f"{bulk_loaded:.2f} s ({100 * (result['bulk_slowdown'] - 1):+.1f}%, goal within 10%)")
    print(f"client hung up after {args.hang_up_ms} ms: {cancel['batches_before_hang_up']:.0f} batches before, "
          f"{cancel['batches_after_hang_up']:.0f} after (goal <= 1); "
          f"{cancel['sequences_cancelled']:.0f} inputs never run")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
