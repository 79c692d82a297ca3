"""Token positions each batching hands the model over the unique STS-B
sentences (BENCHMARKS.md, "Python package vs FastEmbed"): batches cut in input
order (FastEmbed) vs cut after sorting by length (Embedder.encode,
sentence-transformers). Tokenizer only, no inference.

    .venv/bin/python bench/padding_work.py
"""
from __future__ import annotations

import csv
from pathlib import Path

from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[1]


def padded(lengths: list[int], batch: int, power: int = 1) -> int:
    return sum(len(lengths[i:i + batch]) * max(lengths[i:i + batch]) ** power
               for i in range(0, len(lengths), batch))


def main() -> None:
    tok = Tokenizer.from_file(str(ROOT / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    texts: list[str] = []
    for name in ("stsb-en-test.csv", "stsb-en-dev.csv"):
        with open(ROOT / "data" / "stsb" / name, newline="", encoding="utf-8") as f:
            texts += [t for a, b, _ in csv.reader(f) for t in (a, b)]
    texts = list(dict.fromkeys(texts))
    lengths = [len(e.ids) for e in tok.encode_batch(texts)]
    ordered = sorted(lengths, reverse=True)
    real = sum(lengths)
    print(f"{len(texts)} sentences, {real} real tokens")
    for batch in (32, 256):
        a, b = padded(lengths, batch), padded(ordered, batch)
        attention = padded(lengths, batch, 2) / padded(ordered, batch, 2)
        print(f"batch {batch}: input order {a} positions ({a / real:.2f}x real), sorted {b} "
              f"({b / real:.2f}x); input order / sorted {a / b:.2f}x, attention (length^2) {attention:.2f}x")


if __name__ == "__main__":
    main()
