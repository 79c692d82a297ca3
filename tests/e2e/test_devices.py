"""`--device` and its one fallback rule (docs/devices.md), end to end through
the real binary: an explicit device that cannot start fails at start-up with
one line, `auto` says what it chose and why, the OpenVINO engine matches
sentence-transformers, and a device failure at run time gives 503s and an
unhealthy /health without crashing or switching device."""
from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from helpers import MODEL_DIR, ROOT, TEST_DATA, embed_texts, run_cli


def has_nvidia_driver() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def openvino_built() -> bool:
    proc = run_cli("info", "--model", str(MODEL_DIR), "--device", "openvino", check=False)
    return proc.returncode == 0


@pytest.fixture(scope="module")
def openvino() -> None:
    """Skips a test of the OpenVINO engine when the binary was built without
    it, unless AKIDB_REQUIRE_OPENVINO=1 (scripts/test.sh's e2e stage, i.e.
    `make test`, which installs OpenVINO before it builds): then that is a failure."""
    if openvino_built():
        return
    if os.environ.get("AKIDB_REQUIRE_OPENVINO") == "1":
        pytest.fail(f"{os.environ.get('AKIDB_BINARY', 'the binary')} has no OpenVINO engine, and "
                    "AKIDB_REQUIRE_OPENVINO=1 expects it (configure after `make setup-openvino`)", pytrace=False)
    pytest.skip("built without OpenVINO (make setup-openvino)")


def golden(n: int | None = None) -> tuple[list[str], np.ndarray]:
    texts = [json.loads(line)["text"] for line in open(TEST_DATA / "golden" / "texts.jsonl", encoding="utf-8")]
    vectors = np.fromfile(TEST_DATA / "golden" / "vectors.f32", dtype="<f4").reshape(len(texts), -1)
    return (texts, vectors) if n is None else (texts[:n], vectors[:n])


NO_DRIVER = ("akidb-embed: unavailable error: device cuda cannot start: no NVIDIA driver "
             "(libcuda.so.1: cannot open shared object file: No such file or directory); "
             "use --device cpu (or auto)\n")


@pytest.mark.skipif(has_nvidia_driver(), reason="this machine has an NVIDIA driver")
@pytest.mark.parametrize("command", [["embed"], ["serve", "--port", "0"]])
def test_cuda_without_a_gpu_fails_at_start_up_with_one_line(command):
    proc = run_cli(*command, "--model", str(MODEL_DIR), "--device", "cuda", stdin="hello\n", check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode() == NO_DRIVER
    assert proc.stdout == b""


@pytest.mark.skipif(has_nvidia_driver(), reason="this machine has an NVIDIA driver")
def test_the_environment_variable_chooses_the_device_too(monkeypatch):
    monkeypatch.setenv("AKIDB_DEVICE", "cuda")
    proc = run_cli("info", "--model", str(MODEL_DIR), check=False)
    assert (proc.returncode, proc.stderr.decode()) == (1, NO_DRIVER)


@pytest.mark.skipif(has_nvidia_driver(), reason="this machine has an NVIDIA driver")
def test_auto_falls_back_to_the_cpu_and_says_why():
    proc = run_cli("info", "--model", str(MODEL_DIR), "--device", "auto")
    info = json.loads(proc.stdout)
    assert (info["device"], info["engine"]) == ("cpu", "native")
    line = proc.stderr.decode()
    assert line.startswith("akidb-embed: device cpu: auto chose cpu (native engine): cuda: no NVIDIA driver")
    assert "openvino: " in line and line.count("\n") == 1


def test_a_cpu_only_engine_refuses_another_device():
    proc = run_cli("info", "--model", str(MODEL_DIR), "--engine", "native", "--device", "openvino", check=False)
    assert proc.returncode == 1
    assert proc.stderr.decode() == ("akidb-embed: invalid_input error: the native engine runs on the CPU only; "
                                    "--device openvino needs --engine onnx\n")


def test_a_device_failure_at_run_time_gives_503_and_an_unhealthy_server(start_server):
    # The test hook fails the device on its 3rd run (the start-up probe is the 1st).
    s = start_server("--inject-device-failure", "3")
    ok = requests.post(s.url + "/v1/embeddings", json={"input": "first"}, timeout=30)
    assert ok.status_code == 200
    failed = requests.post(s.url + "/v1/embeddings", json={"input": "second"}, timeout=30)
    assert failed.status_code == 503
    message = "device cpu failed: injected device failure (test hook, run 3)"
    assert failed.json()["error"]["message"] == message
    health = requests.get(s.url + "/health", timeout=10)
    assert health.status_code == 503 and message in health.text
    again = requests.post(s.url + "/embed", json={"inputs": "third"}, timeout=30)
    assert again.status_code == 503 and message in again.text  # the same failure, no device switch
    assert requests.get(s.url + "/info", timeout=10).json()["device"] == "cpu"
    assert s.proc.poll() is None  # no crash
    assert s.terminate() == 0


@pytest.mark.usefixtures("openvino")
def test_openvino_matches_sentence_transformers_through_the_cli():
    texts, ref = golden()
    got = np.array(embed_texts(texts, "--device", "openvino"), dtype=np.float32)
    cos = np.sum(got * ref, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    worst = int(np.argmin(cos))
    assert cos.min() >= 0.9999, f"cosine {cos.min():.7f} on {texts[worst][:60]!r}"


@pytest.mark.usefixtures("openvino")
def test_server_on_openvino_names_it_and_is_batch_invariant(start_server):
    texts, ref = golden(16)
    s = start_server("--device", "openvino")
    info = requests.get(s.url + "/info", timeout=10).json()
    assert (info["engine"], info["device"], info["variant"]) == ("openvino", "openvino", "fp32")
    assert info["execution_provider"].startswith("OpenVINO/")
    metrics = requests.get(s.url + "/metrics", timeout=10).text
    assert 'device="openvino",execution_provider="' + info["execution_provider"] + '"' in metrics
    r = requests.post(s.url + "/v1/embeddings", json={"input": texts}, timeout=120)
    assert r.status_code == 200, r.text
    together = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)
    alone = np.array([requests.post(s.url + "/v1/embeddings", json={"input": t}, timeout=60)
                      .json()["data"][0]["embedding"] for t in texts[:6]], dtype=np.float32)
    assert np.abs(alone - together[:6]).max() <= 1e-5  # padded shapes differ; rounding only
    assert np.abs(together - ref).max() <= 1e-4


# Pooling in the graph (python/akidb_embed/gpu_graphs.py): the GPU model
# directory's fp32 and fp16 graphs return pooled vectors, which ONNX Runtime's
# CPU engine binds here exactly as the CUDA engine does on a GPU.
def gpu_graphs(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    return subprocess.run([sys.executable, "-m", "akidb_embed.gpu_graphs", *args], env=env,
                          capture_output=True, timeout=300, check=True)


@pytest.fixture(scope="module")
def gpu_model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gpu") / "minilm-gpu"
    gpu_graphs("--model", str(MODEL_DIR), "--out", str(out))
    return out


def embed_with(model: Path, texts: list[str], *extra: str) -> np.ndarray:
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = run_cli("embed", "--model", str(model), "--format", "jsonl", "--engine", "onnx", *extra,
                  stdin=lines)
    return np.array([json.loads(line)["embedding"] for line in out.stdout.decode().splitlines()],
                    dtype=np.float32)


@pytest.mark.parametrize("variant", ["fp32", "fp16"])
def test_the_gpu_graphs_pool_in_the_graph_and_match_sentence_transformers(gpu_model_dir, variant):
    manifest = json.loads((gpu_model_dir / "akidb.json").read_text())
    assert manifest["variant_details"][variant]["pooled_output"] == "sentence_embedding"
    info = json.loads(run_cli("info", "--model", str(gpu_model_dir), "--engine", "onnx",
                              "--variant", variant).stdout)
    assert info["pooled_on"] == "engine"
    # Every 5th golden text (66, short to 256 tokens) in batches that pad:
    # padding leaking into the pooling would show against the unpadded
    # reference. All 330: scripts/golden_parity.py (docs/devices.md).
    texts, ref = golden()
    texts, ref = texts[::5], ref[::5]
    got = embed_with(gpu_model_dir, texts, "--variant", variant)
    cos = np.sum(got * ref, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.9999, f"cosine {cos.min():.7f} on {texts[int(np.argmin(cos))][:60]!r}"
    if variant == "fp32":  # the same graph pooled on the host
        host_info = json.loads(run_cli("info", "--model", str(MODEL_DIR), "--engine", "onnx",
                                       "--variant", "fp32").stdout)
        assert host_info["pooled_on"] == "host"
        host = embed_with(MODEL_DIR, texts, "--variant", "fp32")
        assert np.abs(got - host).max() <= 1e-5


def test_a_pooling_that_skips_the_prompt_gets_no_pooled_output(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in MODEL_DIR.iterdir():
        if f.name != "akidb.json":
            (src / f.name).symlink_to(f.resolve())
    manifest = json.loads((MODEL_DIR / "akidb.json").read_text())
    manifest["include_prompt"] = False
    (src / "akidb.json").write_text(json.dumps(manifest))
    proc = gpu_graphs("--model", str(src), "--out", str(tmp_path / "out"), "--no-fp16")
    assert ("no pooled output: include_prompt is false: the pooling skips the prompt, whose length "
            "the graph does not know") in proc.stderr.decode()
    written = json.loads((tmp_path / "out" / "akidb.json").read_text())
    assert "pooled_output" not in written["variant_details"].get("fp32", {})
    info = json.loads(run_cli("info", "--model", str(tmp_path / "out"), "--engine", "onnx",
                              "--variant", "fp32").stdout)
    assert info["pooled_on"] == "host"
