"""The HTTP API end to end: the official openai client, TEI routes, tokenize,
health/info/metrics, and the bad-input matrix (each followed by a request
that must still work)."""
from __future__ import annotations

import base64

import numpy as np
import openai
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import embed_texts

TEXTS = [
    "A girl is styling her hair.",
    "A group of men play soccer on the beach.",
    "Héllo wörld, naïve café — 東京 🙂",
    "short",
    " ".join(["a long sentence that goes on"] * 60),  # over 256 tokens: truncated
]
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def reference():
    return np.array(embed_texts(TEXTS), dtype=np.float64)


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)


def cosines(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def assert_works(server):
    r = requests.post(server.url + "/v1/embeddings", json={"input": "still works"}, timeout=30)
    assert r.status_code == 200, r.text
    assert len(r.json()["data"][0]["embedding"]) == 384


def test_openai_single_and_batch_float(client, reference):
    one = client.embeddings.create(model=MODEL, input=TEXTS[0], encoding_format="float")
    assert one.model == MODEL and one.object == "list"
    assert cosines(one.data[0].embedding, reference[0]) >= 0.99999
    batch = client.embeddings.create(model=MODEL, input=TEXTS, encoding_format="float")
    assert [d.index for d in batch.data] == list(range(len(TEXTS)))
    got = np.array([d.embedding for d in batch.data])
    assert (cosines(got, reference) >= 0.99999).all()
    assert batch.usage.prompt_tokens == batch.usage.total_tokens > len(TEXTS) * 2


def test_openai_base64_and_any_model_name(client, reference):
    # The client asks for base64 by default and decodes it itself.
    r = client.embeddings.create(model="some-other-name", input=TEXTS[:3])
    assert r.model == MODEL
    got = np.array([d.embedding for d in r.data])
    assert (cosines(got, reference[:3]) >= 0.99999).all()


def test_base64_is_little_endian_float32(server, reference):
    body = {"input": TEXTS[1], "encoding_format": "base64"}
    r = requests.post(server.url + "/v1/embeddings", json=body, timeout=30).json()
    vec = np.frombuffer(base64.b64decode(r["data"][0]["embedding"]), dtype="<f4")
    assert vec.shape == (384,)
    assert cosines(vec, reference[1]) >= 0.99999


def test_dimensions_truncate_and_renormalize(client, reference):
    r = client.embeddings.create(model=MODEL, input=TEXTS[0], dimensions=64, encoding_format="float")
    vec = np.array(r.data[0].embedding)
    assert vec.shape == (64,)
    assert abs(np.linalg.norm(vec) - 1) < 1e-5
    assert cosines(vec, reference[0][:64]) >= 0.99999


def test_token_id_input_matches_text(server, reference):
    tok = requests.post(server.url + "/tokenize",
                        json={"inputs": TEXTS[:2], "add_special_tokens": False}, timeout=30).json()
    ids = [t["ids"] for t in tok]
    r = requests.post(server.url + "/v1/embeddings", json={"input": ids}, timeout=30).json()
    got = np.array([d["embedding"] for d in r["data"]])
    assert (cosines(got, reference[:2]) >= 0.99999).all()
    single = requests.post(server.url + "/v1/embeddings", json={"input": ids[0]}, timeout=30).json()
    assert cosines(single["data"][0]["embedding"], reference[0]) >= 0.99999


def test_tei_embed(server, reference):
    r = requests.post(server.url + "/embed", json={"inputs": TEXTS}, timeout=30)
    assert r.status_code == 200
    got = np.array(r.json())
    assert (cosines(got, reference) >= 0.99999).all()
    raw = requests.post(server.url + "/embed", json={"inputs": TEXTS[0], "normalize": False}, timeout=30)
    vec = np.array(raw.json()[0])
    assert abs(np.linalg.norm(vec) - 1) > 1e-3  # really not normalized
    assert cosines(vec, reference[0]) >= 0.99999
    long = requests.post(server.url + "/embed", json={"inputs": TEXTS[4], "truncate": False}, timeout=30)
    assert long.status_code == 422 and "tokens" in long.json()["error"]["message"]


def test_tokenize(server):
    r = requests.post(server.url + "/tokenize",
                      json={"inputs": "Hello, world", "return_tokens": True}, timeout=30).json()
    assert r[0]["tokens"] == ["[CLS]", "hello", ",", "world", "[SEP]"]
    assert r[0]["ids"][0] == 101 and r[0]["ids"][-1] == 102
    assert r[0]["offsets"][1] == [0, 5]
    plain = requests.post(server.url + "/tokenize", json={"inputs": ["a b"]}, timeout=30).json()
    assert "tokens" not in plain[0] and len(plain[0]["ids"]) == 4


def test_health_info_metrics(server, client):
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    info = requests.get(server.url + "/info", timeout=5).json()
    assert info["model_id"] == MODEL and info["dimension"] == 384
    assert info["max_input_length"] == 256 and info["backend"] == "onnx"
    assert info["execution_provider"] and info["version"]
    assert info["engine"] == "onnx" and info["device"] == "cpu"
    assert info["scheduling"]["max_batch_tokens"] == 512  # the onnx engine's preferred batch
    client.embeddings.create(model=MODEL, input="for the metrics")
    text = requests.get(server.url + "/metrics", timeout=5).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    stages = {s.labels["stage"] for s in families["akidb_stage_duration_seconds"].samples}
    assert stages == {"queue", "tokenize", "inference", "pool_normalize", "serialize"}
    requests_total = families["akidb_http_requests"].samples
    assert any(s.labels == {"route": "/v1/embeddings", "status": "200"} for s in requests_total)
    for name in ["akidb_batch_size", "akidb_batch_tokens", "akidb_queue_depth", "akidb_queue_sequences",
                 "akidb_sequences_cancelled", "akidb_embeddings", "akidb_tokens"]:
        assert name in families, name
    labels = families["akidb_info"].samples[0].labels
    assert labels["engine"] == "onnx" and labels["device"] == "cpu"
    assert labels["execution_provider"] == "CPUExecutionProvider" and labels["model"] == MODEL


BAD = [
    # (method, path, body, status, words in the message)
    ("POST", "/v1/embeddings", b"{not json", 400, "malformed JSON"),
    ("POST", "/v1/embeddings", b'{"input": 5}', 400, "must be a string"),
    ("POST", "/v1/embeddings", b'{"input": [1.5]}', 400, "must be"),
    ("POST", "/v1/embeddings", b'{"input": [{"text": "x"}]}', 400, "must be"),
    ("POST", "/v1/embeddings", b'{"input": {"a": 1}}', 400, "must be"),
    ("POST", "/v1/embeddings", b'{"input": ["a", 1]}', 400, "must be a string"),
    ("POST", "/v1/embeddings", b'{"input": []}', 422, "empty"),
    ("POST", "/v1/embeddings", b'{"input": "bad \xff\xfe utf8"}', 400, "UTF-8"),
    ("POST", "/v1/embeddings", b'{"input": "\\ud800"}', 400, "surrogate"),
    ("POST", "/v1/embeddings", b'{"input": "a", "encoding_format": "int8"}', 400, "encoding_format"),
    ("POST", "/v1/embeddings", b'{"input": "a", "dimensions": 385}', 422, "dimensions"),
    ("POST", "/v1/embeddings", b'{"input": "a", "dimensions": 0}', 422, "dimensions"),
    ("POST", "/v1/embeddings", b'{"input": [[999999]]}', 422, "vocabulary"),
    ("POST", "/v1/embeddings", b'{"model": "x"}', 400, "required"),
    ("POST", "/v1/embeddings", b'[1, 2]', 400, "object"),
    ("POST", "/v1/embeddings", b"", 400, "empty"),
    ("POST", "/v1/embeddings", b'{"input": "' + b"x" * 1_000_001 + b'"}', 422, "characters"),
    ("POST", "/v1/embeddings", b'{"input": [' + b",".join([b'"a"'] * 3000) + b"]}", 422, "inputs"),
    ("POST", "/v1/embeddings", b'{"input": "' + b"x" * 5_000_000 + b'"}', 413, "larger"),
    ("POST", "/embed", b'{"inputs": "a", "normalize": "yes"}', 400, "true or false"),
    ("POST", "/tokenize", b'{"inputs": [1, 2]}', 400, "must be"),
    ("GET", "/v1/embeddings", None, 405, "not allowed"),
    ("POST", "/health", b"{}", 405, "not allowed"),
    ("GET", "/nope", None, 404, "no route"),
]


@pytest.mark.parametrize("method,path,body,status,words", BAD, ids=[f"{b[1]}:{b[3]}:{b[4]}" for b in BAD])
def test_bad_input(server, method, path, body, status, words):
    r = requests.request(method, server.url + path, data=body, timeout=30,
                         headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text[:300]
    error = r.json()["error"]
    assert words in error["message"], error
    assert error["type"] and error["code"]
    assert_works(server)


def test_large_form_urlencoded_body_says_to_send_json(server):
    # curl -d sends form-urlencoded; cpp-httplib caps such bodies at 8 KiB.
    body = b'{"input": "' + b"x" * 9000 + b'"}'
    r = requests.post(server.url + "/v1/embeddings", data=body, timeout=30,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "application/json" in r.json()["error"]["message"]
    assert_works(server)
