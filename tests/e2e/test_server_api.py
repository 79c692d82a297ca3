"""The HTTP API end to end: the official openai client, TEI routes, tokenize,
health/info/metrics, and the bad-input matrix over every route (each
followed by a request that must still work). TEI's routes in depth:
test_tei_api.py; real clients: test_clients.py; the OpenAPI document:
test_openapi.py."""
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
    ids = [[t["id"] for t in tokens] for tokens in tok]
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
    assert long.status_code == 422 and long.json()["error_type"] == "tokenizer"
    assert "more than the model's maximum of 256" in long.json()["error"]


def test_tokenize(server):
    r = requests.post(server.url + "/tokenize", json={"inputs": "Hello, world"}, timeout=30).json()
    assert r == [[
        {"id": 101, "text": "[CLS]", "special": True, "start": None, "stop": None},
        {"id": 7592, "text": "Hello", "special": False, "start": 0, "stop": 5},
        {"id": 1010, "text": ",", "special": False, "start": 5, "stop": 6},
        {"id": 2088, "text": "world", "special": False, "start": 7, "stop": 12},
        {"id": 102, "text": "[SEP]", "special": True, "start": None, "stop": None},
    ]]
    plain = requests.post(server.url + "/tokenize", json={"inputs": ["a b"], "add_special_tokens": False},
                          timeout=30).json()
    assert [t["id"] for t in plain[0]] == [1037, 1038]


def test_health_info_metrics(server, client):
    assert requests.get(server.url + "/health", timeout=5).status_code == 200
    info = requests.get(server.url + "/info", timeout=5).json()
    assert info["model_id"] == MODEL and info["dimension"] == 384
    assert info["max_input_length"] == 256 and info["backend"] == "native"  # --engine auto's choice
    assert info["execution_provider"] and info["version"]
    assert info["engine"] == "native" and info["device"] == "cpu"
    assert info["scheduling"]["max_batch_tokens"] == 512  # the native engine's preferred batch
    assert info["scheduling"]["max_batch_wait_ms"] == 0  # a CPU waits for no company
    assert info["pooled_on"] == "host"
    assert info["model_type"] == {"embedding": {"pooling": "mean"}} and info["model_dtype"] == "float32"
    assert info["max_client_batch_size"] == 2048 and info["auto_truncate"] is True
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
    assert labels["engine"] == "native" and labels["device"] == "cpu"
    assert labels["execution_provider"].startswith("native-avx") and labels["model"] == MODEL


BIG_BODY = b'{"inputs": "' + b"x" * 5_000_000 + b'"}'
MANY = b"[" + b",".join([b'"a"'] * 3000) + b"]"

BAD = [
    # (method, path, body, status, words in the message, TEI's error_type or None for OpenAI's body)
    ("POST", "/v1/embeddings", b"{not json", 400, "malformed JSON", None),
    ("POST", "/v1/embeddings", b'{"input": 5}', 400, "must be a string", None),
    ("POST", "/v1/embeddings", b'{"input": [1.5]}', 400, "must be", None),
    ("POST", "/v1/embeddings", b'{"input": [{"text": "x"}]}', 400, "must be", None),
    ("POST", "/v1/embeddings", b'{"input": {"a": 1}}', 400, "must be", None),
    ("POST", "/v1/embeddings", b'{"input": ["a", 1]}', 400, "must be a string", None),
    ("POST", "/v1/embeddings", b'{"input": []}', 422, "empty", None),
    ("POST", "/v1/embeddings", b'{"input": "bad \xff\xfe utf8"}', 400, "UTF-8", None),
    ("POST", "/v1/embeddings", b'{"input": "\\ud800"}', 400, "surrogate", None),
    ("POST", "/v1/embeddings", b'{"input": "a", "encoding_format": "int8"}', 400, "encoding_format", None),
    ("POST", "/v1/embeddings", b'{"input": "a", "dimensions": 385}', 422, "dimensions", None),
    ("POST", "/v1/embeddings", b'{"input": "a", "dimensions": 0}', 422, "dimensions", None),
    ("POST", "/v1/embeddings", b'{"input": [[999999]]}', 422, "vocabulary", None),
    ("POST", "/v1/embeddings", b'{"input": "a", "prompt_name": "query"}', 422, "prompt_name", None),
    ("POST", "/v1/embeddings", b'{"model": "x"}', 400, "required", None),
    ("POST", "/v1/embeddings", b'[1, 2]', 400, "object", None),
    ("POST", "/v1/embeddings", b"", 400, "empty", None),
    ("POST", "/v1/embeddings", b'{"input": "' + b"x" * 1_000_001 + b'"}', 422, "characters", None),
    ("POST", "/v1/embeddings", b'{"input": ' + MANY + b"}", 422, "inputs", None),
    ("POST", "/v1/embeddings", b'{"input": "' + b"x" * 5_000_000 + b'"}', 413, "larger", None),
    ("GET", "/v1/embeddings", None, 405, "not allowed", None),
    ("GET", "/v1/models/nope", None, 404, "served models: all-MiniLM-L6-v2", None),
    ("POST", "/v1/models", b"{}", 405, "not allowed", None),
    ("GET", "/v1/nope", None, 404, "no route", None),
    # TEI's routes answer TEI's error bodies.
    ("POST", "/embed", b'{"inputs": "a", "normalize": "yes"}', 400, "true or false", "validation"),
    ("POST", "/embed", b"{not json", 400, "malformed JSON", "validation"),
    ("POST", "/embed", b'{"inputs": []}', 400, "empty", "empty"),
    ("POST", "/embed", b'{"inputs": ' + MANY + b"}", 413, "more than the limit of 2048", "validation"),
    ("POST", "/embed", b'{"inputs": [[30522]]}', 422, "vocabulary", "tokenizer"),
    ("POST", "/embed", b'{"inputs": "a", "prompt_name": "query"}', 422, "prompt_name", "tokenizer"),
    ("POST", "/embed", b'{"inputs": "a", "truncation_direction": "Up"}', 422, "truncation_direction", "validation"),
    ("POST", "/embed", b'{"inputs": "a", "dimensions": 385}', 422, "dimensions", "validation"),
    ("POST", "/embed", BIG_BODY, 413, "larger", "validation"),
    ("POST", "/", b'{"input": "a"}', 400, "'inputs' is required", "validation"),
    ("POST", "/", b'{"inputs": "bad \xff utf8"}', 400, "UTF-8", "validation"),
    ("POST", "/embed_all", b'{"inputs": []}', 400, "empty", "empty"),
    ("POST", "/embed_all", b'{"inputs": "' + b"word " * 300 + b'", "truncate": false}', 422, "tokens",
     "tokenizer"),
    ("POST", "/embed_all", b'{"inputs": 3}', 400, "must be a string", "validation"),
    ("POST", "/similarity", b'{"inputs": "a"}', 400, "must be an object", "validation"),
    ("POST", "/similarity", b'{"inputs": {"sentences": ["a"]}}', 400, "source_sentence", "validation"),
    ("POST", "/similarity", b'{"inputs": {"source_sentence": "a"}}', 400, "sentences", "validation"),
    ("POST", "/similarity", b'{"inputs": {"source_sentence": "a", "sentences": [1]}}', 400, "must be a string",
     "validation"),
    ("POST", "/similarity", b'{"inputs": {"source_sentence": "a", "sentences": ' + MANY + b"}}", 413,
     "more than the limit", "validation"),
    ("POST", "/similarity", b'{"inputs": {"source_sentence": "a", "sentences": ["b"]}, "parameters": 1}', 400,
     "must be an object", "validation"),
    ("POST", "/tokenize", b'{"inputs": [1, 2]}', 400, "must be", "validation"),
    ("POST", "/tokenize", b'{"inputs": []}', 400, "empty", "empty"),
    ("POST", "/tokenize", b'{"inputs": "a", "prompt_name": "query"}', 422, "prompt_name", "tokenizer"),
    ("POST", "/tokenize", b'{"inputs": "a", "add_special_tokens": 1}', 400, "true or false", "validation"),
    ("POST", "/decode", b'{"ids": [30522]}', 422, "outside the vocabulary", "tokenizer"),
    ("POST", "/decode", b'{"ids": [-1]}', 422, "outside the vocabulary", "tokenizer"),
    ("POST", "/decode", b'{"ids": []}', 400, "empty", "empty"),
    ("POST", "/decode", b'{"ids": "hello"}', 400, "must be an array", "validation"),
    ("POST", "/decode", b'{"ids": [[1], "a"]}', 400, "must be an array of token ids", "validation"),
    ("POST", "/decode", b'{"ids": [1], "skip_special_tokens": "no"}', 400, "true or false", "validation"),
    ("POST", "/decode", b'{"ids": [99999999999]}', 422, "out of range", "validation"),
    ("POST", "/health", b"{}", 405, "not allowed", "validation"),
    ("GET", "/embed", None, 405, "not allowed", "validation"),
    ("POST", "/info", b"{}", 405, "not allowed", "validation"),
    ("POST", "/openapi.json", b"{}", 405, "not allowed", "validation"),
    ("GET", "/docs/nope.js", None, 404, "no file /docs/nope.js", "validation"),
    ("GET", "/nope", None, 404, "no route", "validation"),
]


@pytest.mark.parametrize("method,path,body,status,words,error_type", BAD,
                         ids=[f"{b[0]}{b[1]}:{b[3]}:{b[4][:24]}" for b in BAD])
def test_bad_input(server, method, path, body, status, words, error_type):
    r = requests.request(method, server.url + path, data=body, timeout=30,
                         headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text[:300]
    if error_type is None:  # OpenAI's body
        error = r.json()["error"]
        assert words in error["message"], error
        assert error["type"] and error["code"]
    else:  # TEI's body
        assert set(r.json()) == {"error", "error_type"}, r.text[:300]
        assert words in r.json()["error"], r.json()
        assert r.json()["error_type"] == error_type
    assert_works(server)


def test_large_json_body_sent_as_form_urlencoded_is_read_as_json(server):
    # curl -d sends Content-Type application/x-www-form-urlencoded; the body
    # is JSON all the same and is read as such, whatever its size.
    body = b'{"input": "' + b"x " * 4500 + b'"}'
    r = requests.post(server.url + "/v1/embeddings", data=body, timeout=30,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert len(r.json()["data"][0]["embedding"]) == 384
    assert_works(server)
