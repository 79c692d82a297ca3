#!/usr/bin/env python3
"""Soak test of `akidb-embed serve`: --duration seconds at --concurrency
keep-alive clients with mixed request sizes (60% 1 sentence, 30% 8, 8% 32
longer ones, 2% one 256-token passage; OpenAI and TEI routes; one request in ten closes its
connection so accept/close paths run too). Passes with zero 5xx responses
and server RSS at the end within 10% of RSS after the warm-up.

  .venv/bin/python bench/soak.py --binary build/akidb-embed --duration 600 --concurrency 32
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("the quick brown fox jumps over a lazy dog while seven bright stars shine above "
         "quiet hills and rivers flow toward distant seas under a pale moon").split()


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def request_body(rng: random.Random) -> tuple[str, str, str]:
    """(kind, path, body) with the mix of sizes."""
    roll = rng.random()
    if roll < 0.60:
        kind, inputs = "1x short", [sentence(rng, rng.randint(4, 16))]
    elif roll < 0.90:
        kind, inputs = "8x short", [sentence(rng, rng.randint(4, 20)) for _ in range(8)]
    elif roll < 0.98:
        kind, inputs = "32x medium", [sentence(rng, rng.randint(20, 40)) for _ in range(32)]
    else:
        kind, inputs = "1x 256-token", [sentence(rng, 300)]
    if rng.random() < 0.5:
        return kind, "/v1/embeddings", json.dumps({"input": inputs})
    return kind, "/embed", json.dumps({"inputs": inputs})


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(port: int, proc: subprocess.Popen) -> None:
    for _ in range(1200):
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit("server did not become healthy")


def drive(port: int, seconds: float, concurrency: int, seed: int, statuses: Counter,
          kinds: Counter, lock: threading.Lock) -> None:
    """Counts statuses, and (kind, status) pairs in `kinds`."""
    stop_at = time.monotonic() + seconds

    def client(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while time.monotonic() < stop_at:
            kind, path, body = request_body(rng)
            close = rng.random() < 0.1
            headers = {"Content-Type": "application/json"}
            if close:
                headers["Connection"] = "close"
            try:
                conn.request("POST", path, body, headers)
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException) as e:
                status = type(e).__name__
                close = True
            with lock:
                statuses[status] += 1
                kinds[f"{kind} {status}"] += 1
            if close:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build" / "akidb-embed"))
    ap.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--server-args", default="--request-timeout-ms 120000",
                    help="extra serve flags; the default raises the 30 s request timeout so "
                         "that a shared, overloaded machine's queueing is not counted as a 5xx")
    ap.add_argument("--duration", type=float, default=600, help="seconds after the warm-up")
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()

    port = free_port()
    proc = subprocess.Popen([args.binary, "serve", "--model", args.model, "--port", str(port),
                             *args.server_args.split()], stdout=subprocess.DEVNULL)
    statuses: Counter = Counter()
    kinds: Counter = Counter()
    lock = threading.Lock()
    samples: list[tuple[float, float]] = []
    try:
        wait_healthy(port, proc)
        drive(port, args.warmup, args.concurrency, 1, Counter(), Counter(), lock)
        rss_warm = rss_mib(proc.pid)
        t0 = time.monotonic()
        done = threading.Event()

        def sample() -> None:
            while not done.wait(10):
                samples.append((time.monotonic() - t0, rss_mib(proc.pid)))

        sampler = threading.Thread(target=sample)
        sampler.start()
        drive(port, args.duration, args.concurrency, 2, statuses, kinds, lock)
        done.set()
        sampler.join()
        rss_end = rss_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(120)
    total = sum(statuses.values())
    errors_5xx = sum(v for k, v in statuses.items() if isinstance(k, int) and k >= 500)
    failures = sum(v for k, v in statuses.items() if not isinstance(k, int))
    result = {
        "duration_s": args.duration, "concurrency": args.concurrency, "requests": total,
        "rps": total / args.duration, "statuses": {str(k): v for k, v in statuses.items()},
        "kinds": dict(kinds), "rss_after_warmup_mib": rss_warm, "rss_end_mib": rss_end,
        "rss_max_mib": max([s[1] for s in samples] + [rss_end]),
        "rss_end_ratio": rss_end / rss_warm, "exit_code": code,
        "rss_samples": samples,
    }
    print(f"{total} requests in {args.duration:.0f} s at concurrency {args.concurrency}"
          f" ({result['rps']:.1f} req/s); statuses {dict(statuses)}; mix {dict(kinds)}")
    print(f"RSS MiB: after warm-up {rss_warm:.1f}, max {result['rss_max_mib']:.1f}, end {rss_end:.1f}"
          f" (end/warm-up {result['rss_end_ratio']:.3f}); server exit code {code}")
    ok = errors_5xx == 0 and failures == 0 and result["rss_end_ratio"] <= 1.10 and code == 0
    print("PASS" if ok else "FAIL", f"(5xx: {errors_5xx}, transport failures: {failures})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
