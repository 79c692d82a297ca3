"""Every in-process engine behind the same pipeline, through the product's own
commands: the native C++ encoder against the golden sentence-transformers
vectors, the server on it, and its clear refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from helpers import MODEL_DIR, TEST_DATA, embed_texts, run_cli


def golden(n: int | None = None) -> tuple[list[str], np.ndarray]:
    texts = [json.loads(line)["text"] for line in open(TEST_DATA / "golden" / "texts.jsonl", encoding="utf-8")]
    vectors = np.fromfile(TEST_DATA / "golden" / "vectors.f32", dtype="<f4").reshape(len(texts), -1)
    return (texts, vectors) if n is None else (texts[:n], vectors[:n])


def test_native_engine_matches_sentence_transformers_through_the_cli():
    texts, ref = golden()
    got = np.array(embed_texts(texts, "--engine", "native"), dtype=np.float32)
    cos = cosines(got, ref)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.99999, f"cosine {cos.min():.7f} on {texts[worst][:60]!r}"
    assert np.abs(got - ref).max() <= 1e-4


def test_native_bf16_variant_through_the_cli():
    texts, ref = golden()
    got = np.array(embed_texts(texts, "--engine", "native", "--variant", "bf16"), dtype=np.float32)
    cos = cosines(got, ref)
    assert cos.mean() >= 0.9999 and cos.min() >= 0.999, f"mean {cos.mean():.7f}, worst {cos.min():.7f}"
    info = json.loads(run_cli("info", "--model", str(MODEL_DIR), "--engine", "native", "--variant", "bf16").stdout)
    assert info["variant"] == "bf16" and "-bf16-" in info["execution_provider"]


def test_server_on_the_native_engine(start_server):
    texts, ref = golden(24)
    s = start_server("--engine", "native")
    info = requests.get(s.url + "/info", timeout=10).json()
    assert info["engine"] == "native" and info["variant"] == "fp32"
    assert info["execution_provider"].startswith("native-avx")
    r = requests.post(s.url + "/v1/embeddings", json={"input": texts}, timeout=120)
    assert r.status_code == 200, r.text
    got = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)
    assert np.abs(got - ref).max() <= 1e-4
    # packed engine: a request split across batches equals each text alone, exactly
    alone = np.array([requests.post(s.url + "/v1/embeddings", json={"input": t}, timeout=60)
                      .json()["data"][0]["embedding"] for t in texts[:6]], dtype=np.float32)
    assert np.array_equal(alone, got[:6])


def test_native_engine_refuses_onnx_variants_clearly():
    proc = run_cli("info", "--model", str(MODEL_DIR), "--engine", "native", "--variant", "opt", check=False)
    assert proc.returncode == 1
    assert "the native engine runs fp32, bf16 or int8; variant 'opt' is an ONNX Runtime graph" in proc.stderr.decode()


def cosines(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.sum(got * ref, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)


def test_native_int8_close_to_sentence_transformers_through_the_cli():
    texts, ref = golden()
    cos = cosines(np.array(embed_texts(texts, "--engine", "native", "--variant", "int8"), dtype=np.float32), ref)
    print(f"native int8 vs sentence-transformers: mean cos {cos.mean():.6f}, min {cos.min():.6f}")
    assert cos.mean() >= 0.995  # the int8 target
    assert cos.min() >= 0.95


def test_server_on_the_native_int8_engine_is_batch_invariant(start_server):
    texts, ref = golden(24)
    s = start_server("--engine", "native", "--variant", "int8")
    info = requests.get(s.url + "/info", timeout=10).json()
    assert info["engine"] == "native" and info["variant"] == "int8"
    assert info["execution_provider"].startswith("native-avx")
    r = requests.post(s.url + "/v1/embeddings", json={"input": texts}, timeout=120)
    assert r.status_code == 200, r.text
    got = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)
    assert cosines(got, ref).mean() >= 0.995
    # per-token activation scales: each text alone equals it in the batch, exactly
    alone = np.array([requests.post(s.url + "/v1/embeddings", json={"input": t}, timeout=60)
                      .json()["data"][0]["embedding"] for t in texts[:6]], dtype=np.float32)
    assert np.array_equal(alone, got[:6])


def test_unknown_engine_is_refused_with_the_list():
    proc = run_cli("info", "--engine", "tpu", check=False)
    assert proc.returncode != 0
    assert "tpu" in proc.stderr.decode() and "native" in proc.stderr.decode()


def info_of(*args: str, model_dir=MODEL_DIR) -> dict:
    return json.loads(run_cli("info", "--model", str(model_dir), *args).stdout)


def test_auto_engine_runs_native_where_the_model_has_its_files():
    info = info_of()
    assert (info["engine"], info["variant"], info["device"]) == ("native", "fp32", "cpu")
    # An ONNX Runtime graph asked for by name goes to ONNX Runtime.
    info = info_of("--variant", "opt")
    assert (info["engine"], info["variant"]) == ("onnx", "opt")
    info = info_of("--variant", "int8")  # the native int8 (per-token scales) is the faster one
    assert (info["engine"], info["variant"]) == ("native", "int8")
    info = info_of("--variant", "bf16")  # no ONNX graph: only the native engine has it
    assert (info["engine"], info["variant"]) == ("native", "bf16")


def test_auto_engine_takes_onnx_runtime_for_a_model_without_native_files(tmp_path):
    for f in MODEL_DIR.iterdir():
        (tmp_path / f.name).symlink_to(f)
    manifest = json.loads((MODEL_DIR / "akidb.json").read_text())
    manifest["engines"] = ["onnx"]
    (tmp_path / "akidb.json").unlink()
    (tmp_path / "akidb.json").write_text(json.dumps(manifest))
    info = info_of(model_dir=tmp_path)
    assert (info["engine"], info["execution_provider"]) == ("onnx", "CPUExecutionProvider")


def test_bench_runs_native_and_onnx_side_by_side_with_a_native_profile():
    proc = run_cli("bench", "--model", str(MODEL_DIR), "--quick", "--engines", "native,onnx",
                   "--stages", "latency", "throughput", "--batch-sizes", "1", "--profile",
                   "--json", "-")
    r = json.loads(proc.stdout)
    assert r["config"]["engine"] == "native,onnx"
    assert set(r["engines"]) == {"native", "onnx"}
    for name, part in r["engines"].items():
        short = part["latency"][0]
        stages = short["mean_stage_us"]
        assert 0 < stages["inference"] <= stages["total"], (name, stages)
        assert part["throughput"][0]["sentences_per_s"] > 0
    assert r["engines"]["native"]["variant"] == "fp32"
    assert r["engines"]["onnx"]["profile"]["kernel_runs_by_op"], "no ORT operators profiled"
    steps = r["engines"]["native"]["profile"]["native_steps"]["short"]
    names = [row["step"] for row in steps["rows"]]
    assert names == ["embeddings", "qkv", "attention", "attn_out", "attn_norm", "ffn_up",
                     "ffn_down", "ffn_norm", "tokenize", "tensor", "pool+normalize", "other"]
    by_name = {row["step"]: row for row in steps["rows"]}
    assert all(by_name[g]["gflops"] > 0 for g in ("qkv", "attn_out", "ffn_up", "ffn_down"))
    assert 90 <= sum(row["share_pct"] for row in steps["rows"]) <= 100.5
    cmp = r["comparison"]
    assert cmp["engines"] == ["native", "onnx"]
    expected = (cmp["latency"][0]["onnx"]["p95_ms"] / cmp["latency"][0]["native"]["p95_ms"])
    assert cmp["latency"][0]["p95_ratio"] == pytest.approx(expected)
    assert r["idle_check_ms"] < 5, "another engine's threads were still running"


def test_bench_engines_rejects_an_unknown_engine():
    proc = run_cli("bench", "--model", str(MODEL_DIR), "--quick", "--engines", "native,tpu",
                   check=False)
    assert proc.returncode != 0
    assert "tpu" in proc.stderr.decode()
