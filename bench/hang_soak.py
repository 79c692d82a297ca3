#!/usr/bin/env python3
"""The run that hung the server before the thread-pool fix, as a soak: `akidb-embed serve
--engine native --threads 2` (native fp32, a one-worker pool beside its
caller) through the phases of the benchmark that met the hang, then its
last phase for the rest of --duration:

  1. latency:    one client, one short text per request;
  2. throughput: 4 clients, 32 texts per request;
  3. bulk:       a 512-input request (repeated) beside 4 clients of short ones;
  4. 8 clients of short /embed requests until --duration has passed.

Every vector is compared bit for bit with its text's single-request vector
(TEI /embed's shortest round-trip decimals compared as strings, computed
first, one text per request). A short request that takes longer than
--timeout seconds counts as a timeout (the hung server answered nothing;
its clients timed out at 5 s). Passes with 0 timeouts, 0 errors, 0
mismatches, and the server exiting 0 on SIGTERM.

  .venv/bin/python bench/hang_soak.py --binary build/akidb-embed --duration 600
"""
from __future__ import annotations

import argparse
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
WORDS = ("the quick brown fox jumps over a lazy dog while seven bright stars shine above "
         "quiet hills and rivers flow toward distant seas under a pale moon").split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter = Counter()  # (phase, outcome)
        self.worst: dict[str, float] = {}  # phase -> slowest answered request, seconds
        self.examples: list[str] = []

    def add(self, phase: str, outcome: str, seconds: float = 0.0, example: str = "") -> None:
        with self.lock:
            self.counts[(phase, outcome)] += 1
            if outcome == "ok":
                self.worst[phase] = max(self.worst.get(phase, 0.0), seconds)
            if example and sum(e.startswith(outcome) for e in self.examples) < 3:
                self.examples.append(f"{outcome}: {example}")


class Soak:
    def __init__(self, url: str, texts: list[str], timeout: float, tally: Tally) -> None:
        self.url, self.texts, self.timeout, self.tally = url, texts, timeout, tally
        self.refs: dict[str, list[str]] = {}

    def embed(self, session: requests.Session, texts: list[str], timeout: float) -> list[list[str]]:
        r = session.post(self.url + "/embed", json={"inputs": texts}, timeout=timeout)
        r.raise_for_status()
        return json.loads(r.text, parse_float=str, parse_int=str)  # the server's digits, exactly

    def references(self) -> None:
        with requests.Session() as s:
            for t in self.texts:
                self.refs[t] = self.embed(s, [t], 60)[0]

    def one(self, session: requests.Session, phase: str, texts: list[str], timeout: float) -> None:
        start = time.monotonic()
        try:
            got = self.embed(session, texts, timeout)
        except requests.Timeout:
            return self.tally.add(phase, "timeout", example=f"{phase}: {len(texts)} inputs timed out")
        except (requests.RequestException, ValueError) as e:
            body = getattr(getattr(e, "response", None), "text", "")[:200]
            return self.tally.add(phase, "error", example=f"{phase}: {type(e).__name__}: {e} {body}")
        bad = sum(g != self.refs[t] for t, g in zip(texts, got)) + abs(len(got) - len(texts))
        if bad:
            return self.tally.add(phase, "mismatch", example=f"{phase}: {bad} of {len(texts)} vectors differ")
        self.tally.add(phase, "ok", time.monotonic() - start)

    def clients(self, phase: str, n: int, inputs: int, until, seed: int) -> None:
        def run(k: int) -> None:
            rng = random.Random(seed * 100 + k)
            with requests.Session() as s:
                while not until():
                    self.one(s, phase, [rng.choice(self.texts) for _ in range(inputs)], self.timeout * inputs)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def bulk_beside_short(self, seconds: float) -> None:
        stop_at = time.monotonic() + seconds
        done = threading.Event()

        def bulk() -> None:
            rng = random.Random(7)
            with requests.Session() as s:
                while time.monotonic() < stop_at:
                    self.one(s, "bulk 512", [rng.choice(self.texts) for _ in range(512)], 600)
            done.set()

        b = threading.Thread(target=bulk)
        b.start()
        self.clients("short beside bulk", 4, 1, done.is_set, 3)
        b.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build" / "akidb-embed"))
    ap.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--server-args", default="--engine native --threads 2 --request-timeout-ms 600000",
                    help="serve flags; the long request timeout keeps a slow (shared) machine's "
                         "512-input request from ending in a 504 that is not a hang")
    ap.add_argument("--duration", type=float, default=600, help="seconds of load in all (phases 1-4)")
    ap.add_argument("--phase-seconds", type=float, default=30, help="length of phases 1-3 each")
    ap.add_argument("--timeout", type=float, default=5, help="seconds a short request may take")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    rng = random.Random(21)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 60))) + f" #{i}" for i in range(128)]
    port = free_port()
    log = open(Path("/tmp") / f"hang_soak_server_{port}.log", "wb")
    proc = subprocess.Popen([args.binary, "serve", "--model", args.model, "--port", str(port),
                             *args.server_args.split()], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    tally = Tally()
    soak = Soak(url, texts, args.timeout, tally)
    start = None
    try:
        for _ in range(600):
            if proc.poll() is not None:
                sys.exit(f"server exited with {proc.returncode}; see {log.name}")
            try:
                if requests.get(url + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        soak.references()
        start = time.monotonic()
        end = start + args.duration

        def after(seconds: float):
            t = time.monotonic() + seconds
            return lambda: time.monotonic() >= min(t, end)

        soak.clients("latency", 1, 1, after(args.phase_seconds), 1)
        soak.clients("throughput", 4, 32, after(args.phase_seconds), 2)
        soak.bulk_beside_short(max(0.0, min(args.phase_seconds, end - time.monotonic())))
        soak.clients("8 clients short", 8, 1, lambda: time.monotonic() >= end, 4)
    finally:
        elapsed = time.monotonic() - start if start else 0.0
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "did not exit within 60 s of SIGTERM"

    total = Counter()
    for (phase, outcome), n in tally.counts.items():
        total[outcome] += n
    print(f"{sum(total.values())} requests in {elapsed:.0f} s: {dict(total)}; server exit {code}")
    for phase in dict.fromkeys(p for p, _ in tally.counts):
        by = {o: n for (p, o), n in tally.counts.items() if p == phase}
        print(f"  {phase}: {by}, slowest answered {tally.worst.get(phase, 0):.3f} s")
    for e in tally.examples:
        print("  " + e)
    ok = total["timeout"] == 0 and total["error"] == 0 and total["mismatch"] == 0 and code == 0
    print("PASS" if ok else "FAIL")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "command": sys.argv, "seconds": elapsed, "exit_code": code, "totals": dict(total),
            "phases": {f"{p} {o}": n for (p, o), n in tally.counts.items()}, "slowest_s": tally.worst}, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
