"""The bridge's Python service on its own, driven over real pipes."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from helpers import MODEL_DIR, ROOT, TEST_DATA, embed_texts, run_cli

HEADER = struct.Struct("<4sBBHII")


class Service:
    """One `python -m akidb_embed.bridge_service` process with pipes to it."""

    def __init__(self, *extra: str, model=MODEL_DIR):
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "akidb_embed.bridge_service", "--model", str(model), "--threads", "1",
             "--log-level", "warning", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def send_line(self, line: bytes) -> dict:
        self.proc.stdin.write(line + b"\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def ask(self, request: dict) -> dict:
        return self.send_line(json.dumps(request).encode())

    def ask_frame(self, request: dict) -> tuple[dict, bytes]:
        body = json.dumps(request).encode()
        self.proc.stdin.write(HEADER.pack(b"AKBF", 1, 1, 0, len(body), 0) + body)
        self.proc.stdin.flush()
        return self.read_frame()

    def read_frame(self) -> tuple[dict, bytes]:
        magic, version, kind, _, json_len, payload_len = HEADER.unpack(self.proc.stdout.read(HEADER.size))
        assert (magic, version, kind) == (b"AKBF", 1, 2)
        reply = json.loads(self.proc.stdout.read(json_len))
        return reply, self.proc.stdout.read(payload_len)

    def close(self) -> int:
        self.proc.stdin.close()
        code = self.proc.wait(timeout=30)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code


@pytest.fixture(scope="module")
def service():
    svc = Service("--enable-test-commands")
    yield svc
    assert svc.close() == 0


def golden(n: int):
    lines = open(TEST_DATA / "golden" / "texts.jsonl", encoding="utf-8").read().splitlines()[:n]
    texts = [json.loads(line)["text"] for line in lines]
    vectors = np.fromfile(TEST_DATA / "golden" / "vectors.f32", dtype="<f4").reshape(-1, 384)[:n]
    return texts, vectors


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_health_and_info(service):
    assert service.ask({"cmd": "health"})["status"] == "ok"
    info = service.ask({"cmd": "info"})["data"]
    assert info["model"] == "all-MiniLM-L6-v2" and info["dimension"] == 384 and info["max_tokens"] == 256
    assert info["execution_providers"] == ["CPUExecutionProvider"] and info["framing"] == "json"


def test_embed_matches_golden_vectors(service):
    texts, expected = golden(64)
    reply = service.ask({"cmd": "embed", "texts": texts})
    assert reply["status"] == "ok", reply
    got = np.array(reply["data"]["embeddings"], dtype=np.float32)
    assert got.shape == (64, 384) and reply["data"]["dimension"] == 384
    assert cosines(got, expected).min() >= 0.9999
    assert len(reply["data"]["tokens"]) == 64


def test_token_counts_normalize_and_ids(service):
    reply = service.ask({"cmd": "embed", "texts": ["first line"], "normalize": False})
    assert reply["data"]["tokens"] == [4]  # [CLS] first line [SEP]
    raw = np.array(reply["data"]["embeddings"][0])
    assert abs(np.linalg.norm(raw) - 1) > 1e-3
    by_ids = service.ask({"cmd": "embed", "ids": [[2034, 2240]], "normalize": False})["data"]
    assert by_ids["tokens"] == [4]
    assert np.allclose(by_ids["embeddings"][0], raw, atol=1e-5)


def test_truncation(service):
    long = "word " * 400
    assert service.ask({"cmd": "embed", "texts": [long]})["data"]["tokens"] == [256]
    reply = service.ask({"cmd": "embed", "texts": ["short", long], "truncate": False})
    assert reply["error"]["type"] == "InvalidInput" and reply["error"]["index"] == 1
    assert "more than the model's maximum of 256" in reply["error"]["message"]


@pytest.mark.parametrize("line, needle", [
    (b"this is not json", "invalid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"cmd": "dance"}', "unknown command 'dance'"),
    (b'{"texts": ["a"]}', "unknown command None"),
    (b'{"cmd": "embed", "texts": []}', "no inputs"),
    (b'{"cmd": "embed"}', 'exactly one of "texts" and "ids"'),
    (b'{"cmd": "embed", "texts": ["a", 3]}', "must be a string"),
    (b'{"cmd": "embed", "ids": [[1, 99999]]}', "outside the vocabulary"),
    (b'{"cmd": "embed", "texts": ["a"], "normalize": "yes"}', "true or false"),
    (b'{"cmd": "hello", "framing": "morse"}', "unknown framing"),
])
def test_bad_requests_get_an_error_and_the_service_keeps_serving(service, line, needle):
    reply = service.send_line(line)
    assert reply["status"] == "error" and reply["error"]["type"] == "InvalidInput", reply
    assert needle in reply["error"]["message"]
    assert service.ask({"cmd": "health"})["status"] == "ok"


def test_test_commands(service):
    assert service.ask({"cmd": "sleep", "seconds": 0.01})["status"] == "ok"
    service.proc.stdin.write(b'{"cmd": "garbage"}\n')
    service.proc.stdin.flush()
    assert not service.proc.stdout.readline().startswith(b"{")
    assert service.ask({"cmd": "health"})["status"] == "ok"


def test_test_commands_are_off_by_default():
    svc = Service()
    try:
        reply = svc.ask({"cmd": "sleep", "seconds": 5})
        assert reply["status"] == "error" and "unknown command 'sleep'" in reply["error"]["message"]
        assert svc.ask({"cmd": "embed", "texts": ["__akidb_test_crash__"]})["status"] == "ok"
    finally:
        assert svc.close() == 0


def test_binary_framing_round_trip():
    svc = Service()
    try:
        texts, expected = golden(32)
        json_reply = svc.ask({"cmd": "embed", "texts": texts})
        assert svc.ask({"cmd": "hello", "framing": "binary"})["data"] == {"framing": "binary", "version": 1}
        reply, payload = svc.ask_frame({"cmd": "embed", "texts": texts})
        assert reply["status"] == "ok" and reply["data"]["rows"] == 32 and "embeddings" not in reply["data"]
        assert reply["data"]["tokens"] == json_reply["data"]["tokens"]
        got = np.frombuffer(payload, dtype="<f4").reshape(32, 384)
        assert np.array_equal(got, np.array(json_reply["data"]["embeddings"], dtype=np.float32))
        assert cosines(got, expected).min() >= 0.9999
        error, payload = svc.ask_frame({"cmd": "embed", "texts": []})
        assert error["status"] == "error" and payload == b""
        assert svc.ask_frame({"cmd": "info"})[0]["data"]["framing"] == "binary"
        svc.proc.stdin.write(b"XXXX" + bytes(12))  # a broken header cannot be resynced
        svc.proc.stdin.flush()
        assert "bad frame header" in svc.read_frame()[0]["error"]["message"]
        assert svc.proc.wait(timeout=10) == 4
    finally:
        svc.close()


def test_shutdown_command_exits_cleanly():
    svc = Service()
    assert svc.ask({"cmd": "shutdown"})["status"] == "ok"
    assert svc.proc.wait(timeout=10) == 0
    svc.close()


def test_bad_model_path_exits_with_a_message(tmp_path):
    svc = Service(model=tmp_path / "missing")
    assert svc.proc.wait(timeout=30) == 3
    stderr = svc.proc.stderr.read().decode()
    assert "cannot load the model" in stderr and "akidb.json" in stderr
    svc.close()


@pytest.mark.parametrize("framing", ["json", "binary"])
def test_cli_embeds_through_the_bridge(framing):
    info = json.loads(run_cli("info", "--model", str(MODEL_DIR), "--backend", "python").stdout)
    assert info["backend"] == "python" and info["dimension"] == 384
    texts, expected = golden(8)
    got = np.array(embed_texts(texts, "--backend", "python", "--framing", framing, "--threads", "1"),
                   dtype=np.float32)
    assert cosines(got, expected).min() >= 0.9999


def test_sentence_transformers_backend_matches_golden_vectors():
    svc = Service("--backend", "st")
    try:
        texts, expected = golden(16)
        reply = svc.ask({"cmd": "embed", "texts": texts})
        assert reply["status"] == "ok", reply
        assert cosines(np.array(reply["data"]["embeddings"], dtype=np.float32), expected).min() >= 0.9999
        assert svc.ask({"cmd": "info"})["data"]["backend"] == "st"
        assert svc.ask({"cmd": "embed", "ids": [[1]]})["error"]["type"] == "InvalidInput"
    finally:
        assert svc.close() == 0


def test_server_runs_on_the_bridge(start_server):
    import requests

    server = start_server("--backend", "python", "--workers", "2", "--threads", "1")
    texts, expected = golden(6)
    r = requests.post(server.url + "/v1/embeddings", json={"input": texts}, timeout=60)
    assert r.status_code == 200, r.text
    got = np.array([d["embedding"] for d in r.json()["data"]], dtype=np.float32)
    assert cosines(got, expected).min() >= 0.9999
    assert requests.get(server.url + "/info", timeout=10).json()["backend"] == "python"
    # /tokenize works on every engine: admission tokenizes in C++ before the bridge sees anything
    r = requests.post(server.url + "/tokenize", json={"inputs": "hello world"}, timeout=10)
    assert r.status_code == 200, r.text
    assert [t["id"] for t in r.json()[0]] == [101, 7592, 2088, 102]
    # Per-token vectors need an in-process engine: a clear 501, not a crash.
    r = requests.post(server.url + "/embed_all", json={"inputs": "hello world"}, timeout=10)
    assert r.status_code == 501 and r.json()["error_type"] == "backend", r.text
    assert "need an in-process engine (onnx or native)" in r.json()["error"]
    workers = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2
    assert server.terminate() == 0, server.output()
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} outlived the server"
