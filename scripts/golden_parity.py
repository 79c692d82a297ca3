#!/usr/bin/env python3
"""Golden-vector parity of one akidb-embed configuration, through the CLI:
every text of tests/data/golden embedded in one run (batches of up to 64)
and again one by one for the first N (batch invariance), against the
sentence-transformers vectors. Needs only numpy, so it runs on a bare GPU
machine too. Exit 1 when cos < --min-cos or a text's vector depends on its
batch-mates by more than --max-batch-diff.

    scripts/golden_parity.py --device cuda --variant fp16 -- --model build/models/minilm-gpu
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def embed(binary: str, texts: list[str], flags: list[str]) -> np.ndarray:
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = subprocess.run([binary, "embed", "--format", "jsonl", *flags], input=lines.encode(),
                         capture_output=True, check=False)
    if out.returncode != 0:
        sys.exit(f"akidb-embed embed {' '.join(flags)} failed: {out.stderr.decode().strip()}")
    return np.array([json.loads(l)["embedding"] for l in out.stdout.decode().splitlines()], dtype=np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=str(ROOT / "build" / "akidb-embed"))
    p.add_argument("--golden", type=Path, default=ROOT / "tests" / "data" / "golden")
    p.add_argument("--device", default="cpu")
    p.add_argument("--variant", default="")
    p.add_argument("--min-cos", type=float, default=0.9999)
    p.add_argument("--alone", type=int, default=8, help="texts also embedded one by one")
    p.add_argument("--max-batch-diff", type=float, default=1e-4)
    p.add_argument("extra", nargs="*", help="more akidb-embed flags (after --)")
    a = p.parse_args()
    texts = [json.loads(l)["text"] for l in open(a.golden / "texts.jsonl", encoding="utf-8")]
    ref = np.fromfile(a.golden / "vectors.f32", dtype="<f4").reshape(len(texts), -1)
    flags = ["--device", a.device, *(["--variant", a.variant] if a.variant else []), *a.extra]
    got = embed(a.binary, texts, flags)
    cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    alone = np.stack([embed(a.binary, [t], flags)[0] for t in texts[: a.alone]])
    batch_diff = float(np.abs(alone - got[: a.alone]).max())
    worst = int(np.argmin(cos))
    result = {"device": a.device, "variant": a.variant or "default", "texts": len(texts),
              "min_cos": float(cos.min()), "mean_cos": float(cos.mean()),
              "max_abs_diff": float(np.abs(got - ref).max()), "batch_vs_alone_max_diff": batch_diff,
              "worst_text": texts[worst][:60]}
    print(json.dumps(result))
    ok = cos.min() >= a.min_cos and batch_diff <= a.max_batch_diff
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
