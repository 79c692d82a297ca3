"""Several models in one `akidb-embed serve`: all-MiniLM-L6-v2 (the default,
384-d) next to a small synthetic BERT (32-d, made and prepared at test time).

OpenAI requests are routed by `model` and answer exactly what a server of
that model alone answers; an unknown model is OpenAI's 404 model_not_found
listing the served ones; TEI's routes serve the default; each model has its
own queue budget and its own /metrics series; two models of one name are a
start-up error.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import Server
from helpers import MODEL_DIR, run_cli
from synthetic_models import Spec, make_model

DEFAULT = "all-MiniLM-L6-v2"
TEXTS = ["the first model answers", "a second sentence", "routing by name"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """(name, dir) of a prepared 2-layer, 32-d synthetic BERT."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("multi")
    source = make_model(Spec("multi-synth", "mean", seed=21), root / "multi-synth")
    prepared = root / "multi-synth-prepared"
    run_cli("prepare", "--from", str(source), "--out", str(prepared), "--variants", "fp32")
    name = json.loads((prepared / "akidb.json").read_text())["name"]
    assert name != DEFAULT
    return name, prepared


@pytest.fixture(scope="module")
def multi(synth):
    s = Server("--model", str(synth[1]))  # after the default --model
    yield s
    assert s.terminate() == 0, s.output()


def openai(url, body):
    return requests.post(url + "/v1/embeddings", json=body, timeout=60)


def samples(url, family):
    text = requests.get(url + "/metrics", timeout=10).text
    for f in text_string_to_metric_families(text):
        if f.name == family:
            return f.samples
    raise KeyError(family)


def by_model(url, family, sample):
    return {s.labels["model"]: s.value for s in samples(url, family) if s.name == sample}


def test_openai_routes_by_model_to_that_models_exact_vectors(multi, synth, server, start_server):
    name, prepared = synth
    body = {"input": TEXTS, "model": name, "encoding_format": "float"}
    got = openai(multi.url, body)
    assert got.status_code == 200, got.text
    assert got.json()["model"] == name and len(got.json()["data"][0]["embedding"]) == 32
    alone = start_server(model=prepared)
    assert got.json()["data"] == openai(alone.url, body).json()["data"]  # bit for bit
    default = {"input": TEXTS, "model": DEFAULT, "encoding_format": "float"}
    assert openai(multi.url, default).json()["data"] == openai(server.url, default).json()["data"]


def test_missing_model_and_hub_id_serve_the_default(multi, synth):
    for body in ({"input": "x"}, {"input": "x", "model": None},
                 {"input": "x", "model": "sentence-transformers/" + DEFAULT}):
        r = openai(multi.url, body)
        assert r.status_code == 200 and r.json()["model"] == DEFAULT, (body, r.text)
        assert len(r.json()["data"][0]["embedding"]) == 384
    r = openai(multi.url, {"input": "x", "model": "some-org/" + synth[0]})
    assert r.json()["model"] == synth[0] and len(r.json()["data"][0]["embedding"]) == 32


def test_unknown_model_is_openai_404_listing_the_served_models(multi, synth):
    r = openai(multi.url, {"input": "x", "model": "text-embedding-3-small"})
    assert r.status_code == 404
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "model_not_found"
    assert error["param"] is None
    assert error["message"] == ("The model 'text-embedding-3-small' does not exist or is not served here; "
                                f"served models: {DEFAULT}, {synth[0]}")
    r = requests.get(multi.url + "/v1/models/nope", timeout=5)
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    # dimensions are checked against the model the request names
    r = openai(multi.url, {"input": "x", "model": synth[0], "dimensions": 64})
    assert r.status_code == 422 and "dimension 32" in r.json()["error"]["message"]


def test_models_lists_both_and_tei_routes_serve_the_default(multi, synth):
    listing = requests.get(multi.url + "/v1/models", timeout=5).json()
    assert [m["id"] for m in listing["data"]] == [DEFAULT, synth[0]]
    one = requests.get(multi.url + f"/v1/models/{synth[0]}", timeout=5).json()
    assert one == listing["data"][1]
    embed = requests.post(multi.url + "/embed", json={"inputs": TEXTS[0]}, timeout=30).json()
    assert len(embed[0]) == 384
    info = requests.get(multi.url + "/info", timeout=5).json()
    assert info["model_id"] == DEFAULT and info["dimension"] == 384
    assert info["served_models"] == [DEFAULT, synth[0]]
    health = requests.get(multi.url + "/health", timeout=5).json()
    assert health == {"status": "ok", "models": {DEFAULT: {"status": "ok"}, synth[0]: {"status": "ok"}}}


def test_metrics_are_labelled_by_model(multi, synth):
    before = by_model(multi.url, "akidb_embeddings", "akidb_embeddings_total")
    assert openai(multi.url, {"input": TEXTS, "model": synth[0]}).status_code == 200
    after = by_model(multi.url, "akidb_embeddings", "akidb_embeddings_total")
    assert after[synth[0]] - before[synth[0]] == len(TEXTS) and after[DEFAULT] == before[DEFAULT]
    info = {s.labels["model"] for s in samples(multi.url, "akidb_info")}
    assert info == {DEFAULT, synth[0]}
    assert set(by_model(multi.url, "akidb_queue_depth", "akidb_queue_depth")) == info


def test_a_flooded_model_does_not_starve_another(synth, tmp_path, start_server):
    models = {"models": [{"path": str(MODEL_DIR), "name": "flooded", "max_queue": 2, "max_batch_sequences": 1},
                         {"path": str(synth[1])}]}
    (tmp_path / "models.json").write_text(json.dumps(models))
    s = start_server("--models-file", str(tmp_path / "models.json"), model=None)
    long_text = " ".join(["the queue fills up with long inputs"] * 40)

    def hit(i):
        if i % 4 == 3:
            return synth[0], openai(s.url, {"input": TEXTS, "model": synth[0]})
        return "flooded", openai(s.url, {"input": [long_text] * 4, "model": "flooded"})

    with ThreadPoolExecutor(24) as pool:
        replies = list(pool.map(hit, range(24)))
    flooded = [r.status_code for m, r in replies if m == "flooded"]
    other = [r.status_code for m, r in replies if m != "flooded"]
    assert 503 in flooded and set(flooded) <= {200, 503}, flooded
    assert set(other) == {200}, other
    overloaded = next(r for m, r in replies if r.status_code == 503)
    assert overloaded.json()["error"]["code"] == "overloaded"
    rejected = by_model(s.url, "akidb_queue_rejected", "akidb_queue_rejected_total")
    assert rejected == {"flooded": flooded.count(503), synth[0]: 0}
    assert requests.get(s.url + "/info", timeout=5).json()["max_concurrent_requests"] == 2


def test_two_models_of_one_name_are_a_startup_error():
    proc = run_cli("serve", "--port", "0", "--model", str(MODEL_DIR), "--model", str(MODEL_DIR), check=False)
    assert proc.returncode == 1
    assert (f"model_error error: two served models are named '{DEFAULT}' (--model {MODEL_DIR} and "
            f"--model {MODEL_DIR}); give one of them another name") in proc.stderr.decode()


def test_a_bad_models_file_is_refused_naming_the_field(tmp_path):
    f = tmp_path / "models.json"
    f.write_text(json.dumps({"models": [{"path": str(MODEL_DIR), "max_queu": 2}]}))
    proc = run_cli("serve", "--port", "0", "--models-file", str(f), check=False)
    assert proc.returncode == 1
    assert f"model_error error: {f}: models[0].max_queu: unknown field" in proc.stderr.decode()
    f.write_text(json.dumps({"models": [{"path": str(MODEL_DIR), "max_queue": -1}]}))
    proc = run_cli("serve", "--port", "0", "--models-file", str(f), check=False)
    assert f"{f}: models[0].max_queue: must be a non-negative integer, not -1" in proc.stderr.decode()


def test_name_equals_dir_serves_one_folder_under_a_second_name(start_server):
    s = start_server("--model", f"mini2={MODEL_DIR}")
    assert [m["id"] for m in requests.get(s.url + "/v1/models", timeout=5).json()["data"]] == [DEFAULT, "mini2"]
    r = openai(s.url, {"input": TEXTS[0], "model": "mini2"})
    assert r.status_code == 200 and r.json()["model"] == "mini2"
    proc = run_cli("serve", "--port", "0", "--model", f"={MODEL_DIR}", check=False)
    assert proc.returncode == 1 and "write DIR or NAME=DIR (both non-empty)" in proc.stderr.decode()
