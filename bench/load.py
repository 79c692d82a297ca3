#!/usr/bin/env python3
"""Load benchmark of `akidb-embed serve` with wrk: throughput and P50/P95/P99
latency at several concurrencies, one STS-B sentence per request.

Starts the server on a free loopback port (or uses --url), writes one JSON
request body per STS-B test sentence, runs wrk for a bounded time at each
concurrency and prints a table; --json writes the numbers too.

  .venv/bin/python bench/load.py --binary build/akidb-embed --model models/all-MiniLM-L6-v2 \
      --concurrency 1 8 64 --duration 10
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STSB = ROOT / "data" / "stsb" / "stsb-en-test.csv"

LUA = r"""
local bodies = {}
local i = 0
local path = "/v1/embeddings"
function init(args)
  path = args[2]
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  i = math.random(#bodies)
end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, bodies[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max, e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def sentences(limit: int) -> list[str]:
    out: list[str] = []
    with open(STSB, encoding="utf-8", newline="") as f:
        for row in csv.reader(f):
            out += [row[0], row[1]]
            if len(out) >= limit:
                break
    return out[:limit]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit("server did not become healthy")


def server_sums(url: str, route: str) -> dict[str, float]:
    """Sums and counts from /metrics: request time, and time per stage."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            if s.name == "akidb_http_request_duration_seconds_sum" and s.labels.get("route") == route:
                out["http"] = s.value
            elif s.name == "akidb_http_request_duration_seconds_count" and s.labels.get("route") == route:
                out["requests"] = s.value
            elif s.name == "akidb_stage_duration_seconds_sum":
                out[s.labels["stage"]] = s.value
            elif s.name == "akidb_batch_size_count":
                out["batches"] = s.value
    return out


def server_breakdown(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Mean server-side ms per request, and mean requests per batch."""
    d = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    n = max(d.get("requests", 0.0), 1.0)
    model = d.get("tokenize", 0.0) + d.get("inference", 0.0) + d.get("pool_normalize", 0.0)
    return {
        "server_ms": d.get("http", 0.0) / n * 1e3,
        "queue_ms": d.get("queue", 0.0) / n * 1e3,
        "model_ms_per_batch": model / max(d.get("batches", 0.0), 1.0) * 1e3,
        "serialize_us": d.get("serialize", 0.0) / n * 1e6,
        "requests_per_batch": d.get("requests", 0.0) / max(d.get("batches", 0.0), 1.0),
        # HTTP + JSON + hand-off: what the request cost beyond queueing and the model
        "overhead_us": (d.get("http", 0.0) - d.get("queue", 0.0)) / n * 1e6
        - model / max(d.get("batches", 0.0), 1.0) * 1e6,
    }


def run_wrk(url: str, lua: Path, bodies: Path, path: str, conns: int, duration: int) -> dict:
    threads = min(conns, 2)
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--timeout", "30s",
           "-s", str(lua), url, "--", str(bodies), path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    r["concurrency"] = conns
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build" / "akidb-embed"))
    ap.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--url", help="use a running server instead of starting one")
    ap.add_argument("--route", default="/v1/embeddings", choices=["/v1/embeddings", "/embed"])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--duration", type=int, default=10, help="seconds per concurrency")
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--server-args", default="", help="extra flags for serve, e.g. '--threads 2'")
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")

    proc = None
    url = args.url
    if not url:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([args.binary, "serve", "--model", args.model, "--port", str(port),
                                 *args.server_args.split()], stdout=subprocess.DEVNULL)
        wait_healthy(url, proc)
    key = "input" if args.route == "/v1/embeddings" else "inputs"
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            lua, bodies = Path(tmp) / "load.lua", Path(tmp) / "bodies.jsonl"
            lua.write_text(LUA)
            bodies.write_text("".join(json.dumps({key: s}) + "\n" for s in sentences(args.sentences)))
            run_wrk(url, lua, bodies, args.route, 1, 2)  # warm-up
            for c in args.concurrency:
                before = server_sums(url, args.route)
                r = run_wrk(url, lua, bodies, args.route, c, args.duration)
                r.update(server_breakdown(before, server_sums(url, args.route)))
                results.append(r)
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)

    print(f"{'conc':>5} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} |"
          f" {'req/batch':>9} {'model ms/batch':>14} {'serialize us':>12} {'overhead us':>11}")
    for r in results:
        print(f"{r['concurrency']:>5} {r['rps']:>9.1f} {r['p50_us'] / 1e3:>8.2f} {r['p95_us'] / 1e3:>8.2f} "
              f"{r['p99_us'] / 1e3:>8.2f} {r['non_2xx'] + r['socket_errors']:>7} |"
              f" {r['requests_per_batch']:>9.1f} {r['model_ms_per_batch']:>14.2f}"
              f" {r['serialize_us']:>12.1f} {r['overhead_us']:>11.1f}")
    print("overhead us: server-side request time minus queue wait minus the model's time per batch"
          " (parse, hand-off, serialize)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"route": args.route, "results": results}, indent=2))


if __name__ == "__main__":
    main()
