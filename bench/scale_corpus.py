"""Writes a corpus for the Ray job's throughput numbers (docs/scale-out.md):
N distinct sentences (the unique STS-B English sentences, then numbered
variants of them) in K JSONL files of {"id", "text"}, plus all.jsonl with
every text (for timing `akidb-embed embed` alone on the same sentences).

    python3 bench/scale_corpus.py --sentences 20000 --files 8 --out /tmp/akidb-corpus
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def texts(n: int) -> list[str]:
    base: list[str] = []
    for name in ("stsb-en-test.csv", "stsb-en-dev.csv"):
        with open(ROOT / "data" / "stsb" / name, newline="", encoding="utf-8") as f:
            base.extend(t for a, b, _ in csv.reader(f) for t in (a, b))
    base = list(dict.fromkeys(base))
    out, k = list(base[:n]), 1
    while len(out) < n:
        out.extend(f"{t} (variant {k})" for t in base[:n - len(out)])
        k += 1
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sentences", type=int, default=20000)
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    corpus = texts(args.sentences)
    parts, every = args.out / "parts", args.out / "all.jsonl"
    parts.mkdir(parents=True, exist_ok=True)
    per = -(-len(corpus) // args.files)
    for k in range(args.files):
        with open(parts / f"part-{k}.jsonl", "w", encoding="utf-8") as f:
            for i, t in enumerate(corpus[k * per:(k + 1) * per]):
                f.write(json.dumps({"id": f"doc-{k}-{i}", "text": t}) + "\n")
    every.write_text("".join(json.dumps({"text": t}) + "\n" for t in corpus), encoding="utf-8")
    print(f"{len(corpus)} sentences in {args.files} files under {parts}, and {every}")


if __name__ == "__main__":
    main()
