#!/usr/bin/env python3
"""Two or more builds of akidb-native-bench, alternately, on one machine.

A change to the native engine's orchestration (the thread pool, scheduling)
is judged against the build before it in the same session: each round runs
every binary once, in turn, so a neighbour's load hits all sides alike. The
native side's batch-1 latency (13 and 256 tokens) and its best throughput
over the batch sizes are read from each run; the report gives the median of
the rounds per binary and its ratio to the first binary.

  .venv/bin/python bench/ab_native.py --rounds 5 \\
      before=/path/to/old/akidb-native-bench after=build/akidb-native-bench
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LATENCY = re.compile(r"^(\d+) tokens\s+\|\s+native ([\d.]+) / ([\d.]+) /")
THROUGHPUT = re.compile(r"^batch (\d+)\s+\|\s+native\s+(\d+)")


def run(binary: str, args: list[str], timeout: float) -> dict[str, float]:
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, check=True).stdout
    got: dict[str, float] = {}
    best = 0
    for line in out.splitlines():
        if m := LATENCY.match(line):
            got[f"P50 {m[1]} tok ms"] = float(m[2])
            got[f"P95 {m[1]} tok ms"] = float(m[3])
        elif m := THROUGHPUT.match(line):
            best = max(best, int(m[2]))
    got["best sentences/s"] = float(best)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sides", nargs="+", help="NAME=PATH of an akidb-native-bench binary; the first is the baseline")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=600, help="seconds one run may take (a hung build fails)")
    ap.add_argument("--bench-args", default=(
        f"--model {ROOT / 'models/all-MiniLM-L6-v2'} --stsb {ROOT / 'data/stsb/stsb-en-test.csv'} "
        "--sentences 256 --iterations 100 --threads 2"))
    a = ap.parse_args()
    sides = [s.split("=", 1) for s in a.sides]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in sides}
    for r in range(a.rounds):
        for name, path in sides:
            results[name].append(run(path, a.bench_args.split(), a.timeout))
            print(f"round {r + 1} {name}: {results[name][-1]}", flush=True)
    base = sides[0][0]
    keys = list(results[base][0])
    medians = {n: {k: statistics.median(x[k] for x in rs) for k in keys} for n, rs in results.items()}
    print(f"\nmedians of {a.rounds} alternating rounds; ratio to {base} (time: lower is better, "
          "sentences/s: higher is better)")
    print("| metric | " + " | ".join(n for n, _ in sides) + " |")
    print("| --- |" + " ---: |" * len(sides))
    for k in keys:
        cells = [f"{medians[n][k]:.2f}" + ("" if n == base else f" ({medians[n][k] / medians[base][k]:.3f}x)")
                 for n, _ in sides]
        print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
