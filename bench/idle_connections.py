#!/usr/bin/env python3
"""Idle and slow connections vs active clients (issue 13's goal).

For each server binary given (peers in the same run, one after the other):
  1. start `akidb-embed serve`, warm up;
  2. baseline: --active clients (keep-alive, one STS-B-like sentence per
     POST /v1/embeddings) for --duration seconds: P50/P95, failures;
  3. a child process opens --idle keep-alive connections (each sends one
     GET /health, reads the answer, then sits idle; reconnects if closed) and
     --trickle connections that send a request's headers one line per second
     and never finish them (reconnecting when the server cuts them off);
  4. loaded: the same active clients again, with those connections held;
  5. server RSS (VmRSS) before, with the connections held, and per 1,000.

Goal: loaded P95 within 20% of baseline P95, no failed active request.

  .venv/bin/python bench/idle_connections.py \
      --binary "build/akidb-embed --keep-alive-timeout 300 --io-timeout 300" \
      --binary build-main-src/build/akidb-embed      # the cpp-httplib front end (c37585a)

Sets RLIMIT_NOFILE to its hard limit itself (the server raises its own).
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ["A man is playing a guitar.", "The cat sits on the mat by the window.",
             "Stocks fell sharply on Monday after the report.", "How do I bake bread at home?",
             "Two dogs run across a grassy field.", "The meeting was moved to Thursday afternoon."]


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("server did not become healthy")


def active_clients(port: int, clients: int, duration: float) -> dict:
    """`clients` threads, each on its own keep-alive connection."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + duration

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        i = k
        while time.monotonic() < stop_at:
            body = json.dumps({"input": SENTENCES[i % len(SENTENCES)] + f" ({i})"})
            i += clients
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            dt = (time.perf_counter() - t0) * 1e3
            with lock:
                if ok:
                    latencies.append(dt)
                else:
                    failures[0] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    return {"requests": len(latencies), "failures": failures[0], "p50_ms": pick(0.50),
            "p95_ms": pick(0.95), "p99_ms": pick(0.99), "rps": len(latencies) / duration}


# ---- the child process holding idle and trickling connections ----------------

async def idle_connection(port: int, stats: dict, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
            length = int(next((l.split(b":")[1] for l in head.split(b"\r\n")
                               if l.lower().startswith(b"content-length")), b"0"))
            await reader.readexactly(length)
            stats["idle_open"] += 1
            stop_task = asyncio.ensure_future(stop.wait())
            read_task = asyncio.ensure_future(reader.read(1))  # b"" when the server closes it
            await asyncio.wait([stop_task, read_task], return_when=asyncio.FIRST_COMPLETED)
            stats["idle_open"] -= 1
            if not read_task.done():
                read_task.cancel()
            else:
                stats["idle_closed_by_server"] += 1
            stop_task.cancel()
            writer.close()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            stats["idle_errors"] += 1
            await asyncio.sleep(0.5)


async def trickle_connection(port: int, k: int, stats: dict, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
            writer.write(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n")
            stats["trickle_open"] += 1
            line = 0
            try:
                while not stop.is_set():
                    await asyncio.sleep(1.0)
                    writer.write(f"X-Slow-{line % 50}: {k}\r\n".encode())
                    await writer.drain()
                    line += 1
                    if reader.at_eof() or len(reader._buffer):  # the server answered (408) or closed
                        stats["trickle_cut_by_server"] += 1
                        break
            finally:
                stats["trickle_open"] -= 1
                writer.close()
        except (OSError, asyncio.TimeoutError):
            stats["trickle_errors"] += 1
            await asyncio.sleep(0.5)


def hold_connections(port: int, idle: int, trickle: int, ready, done, out) -> None:
    raise_nofile()
    stats = {k: 0 for k in ("idle_open", "idle_closed_by_server", "idle_errors", "trickle_open",
                            "trickle_cut_by_server", "trickle_errors")}

    async def main() -> None:
        stop = asyncio.Event()
        tasks = []
        for i in range(idle):
            tasks.append(asyncio.ensure_future(idle_connection(port, stats, stop)))
            if i % 200 == 199:
                await asyncio.sleep(0.05)  # do not overflow the listen backlog
        for k in range(trickle):
            tasks.append(asyncio.ensure_future(trickle_connection(port, k, stats, stop)))
        deadline = time.monotonic() + 60
        while stats["idle_open"] < idle and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        out.put(dict(stats))
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.2)
        out.put(dict(stats))
        stop.set()
        await asyncio.wait(tasks, timeout=10)

    asyncio.run(main())


def run_one(spec: str, args) -> dict:
    binary, *flags = spec.split()
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--model", args.model, "--port", str(port),
                             *flags, *args.server_args.split()], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    result: dict = {"binary": spec}
    try:
        wait_healthy(port, proc)
        active_clients(port, args.active, 3)  # warm-up
        result["baseline"] = active_clients(port, args.active, args.duration)
        result["rss_before_mib"] = rss_mib(proc.pid)
        ready, done, out = mp.Event(), mp.Event(), mp.Queue()
        holder = mp.Process(target=hold_connections,
                            args=(port, args.idle, args.trickle, ready, done, out))
        holder.start()
        ready.wait(120)
        result["held_at_start"] = out.get(timeout=30)
        result["rss_held_mib"] = rss_mib(proc.pid)
        result["loaded"] = active_clients(port, args.active, args.duration)
        result["rss_after_mib"] = rss_mib(proc.pid)
        done.set()
        result["held_at_end"] = out.get(timeout=60)
        holder.join(30)
        result["server_alive"] = proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    held = max(result.get("held_at_start", {}).get("idle_open", 0), 1)
    result["rss_per_1k_idle_mib"] = (result.get("rss_held_mib", 0) - result.get("rss_before_mib", 0)) / held * 1000
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", action="append",
                    help="server binary, optionally followed by its own flags in the same string "
                         "(repeat to compare peers)")
    ap.add_argument("--server-args", default="", help="extra serve flags for every binary")
    ap.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--idle", type=int, default=5000)
    ap.add_argument("--trickle", type=int, default=1000)
    ap.add_argument("--active", type=int, default=8)
    ap.add_argument("--duration", type=float, default=20, help="seconds per measurement")
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args()
    nofile = raise_nofile()
    if nofile < args.idle + args.trickle + 100:
        sys.exit(f"the hard RLIMIT_NOFILE ({nofile}) is too low for {args.idle + args.trickle} connections")
    results = [run_one(b, args) for b in (args.binary or [str(ROOT / "build" / "akidb-embed")])]
    for r in results:
        b, l = r.get("baseline", {}), r.get("loaded", {})
        print(f"== {r['binary']}")
        print(f"   baseline : {b.get('requests', 0):6d} ok {b.get('failures', 0):5d} failed"
              f"  p50 {b.get('p50_ms', float('nan')):8.2f} ms  p95 {b.get('p95_ms', float('nan')):8.2f} ms")
        print(f"   loaded   : {l.get('requests', 0):6d} ok {l.get('failures', 0):5d} failed"
              f"  p50 {l.get('p50_ms', float('nan')):8.2f} ms  p95 {l.get('p95_ms', float('nan')):8.2f} ms"
              f"  (p95 ratio {l.get('p95_ms', float('nan')) / b.get('p95_ms', float('nan')):.2f})")
        print(f"   held at start: {r.get('held_at_start')}")
        print(f"   held at end  : {r.get('held_at_end')}")
        print(f"   RSS MiB: before {r.get('rss_before_mib', 0):.1f}, held {r.get('rss_held_mib', 0):.1f},"
              f" after {r.get('rss_after_mib', 0):.1f}; per 1k idle {r['rss_per_1k_idle_mib']:.2f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
