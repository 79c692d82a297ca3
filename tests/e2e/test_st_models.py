"""Any sentence-transformers folder: synthetic BERT models with CLS, max and
mean-sqrt-len pooling, prompts (include_prompt false) and both folder
layouts (2.x-5.x and 6.x), made at test time, prepared with
`akidb-embed prepare --from`, and compared with sentence-transformers'
encode at batch 1, 7 and 64 on the ONNX and native engines.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import requests

from helpers import BINARY, TEST_DATA, run_cli
from synthetic_models import Spec, make_model, to_st6_layout

# Long prompts: with include_prompt false, pooling then leaves out a large share of the tokens.
PROMPTS = {"query": "query: find the passage that answers this question best: ",
           "passage": "passage: a document that may hold the answer: "}
# Elementwise, besides the cosine: a pooling that keeps or drops a few tokens
# wrongly can stay above cos 0.9999 on a small random model, not within this.
ATOL = 2e-4
SPECS = [
    # CLS pooling with prompts and a default prompt; prompt tokens excluded.
    Spec("bert-cls-prompts", "cls", seed=11, include_prompt=False, prompts=PROMPTS, default_prompt_name="query"),
    # Max pooling, no Normalize module, pytorch_model.bin weights, 6.x layout.
    Spec("bert-max", "max", seed=12, normalize=False, weights="bin", layout="st6"),
    # Mean-sqrt-len pooling with prompts that pooling skips, 6.x layout.
    Spec("bert-sqrt-prompts", "mean_sqrt_len_tokens", seed=13, include_prompt=False, prompts=PROMPTS,
         layout="st6"),
]
MANIFEST_POOLING = {"cls": "cls", "max": "max", "mean_sqrt_len_tokens": "mean_sqrt_len"}
ENGINES = ("onnx", "native")
MIN_COS = 0.9999


def texts() -> list[str]:
    lines = (TEST_DATA / "golden" / "texts.jsonl").read_text(encoding="utf-8").splitlines()
    out = [json.loads(line)["text"] for line in lines[:60]]
    return out + ["", "word " * 100, "héllo wörld — naïve café", "中文分词测试"]  # 64


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, tuple[Spec, object, object]]:
    """name -> (spec, the prepared model dir, the sentence-transformers reference)."""
    import torch
    from sentence_transformers import SentenceTransformer

    # Tiny models: torch's thread pool costs more than it saves (10x on a busy machine).
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("st-models")
    out = {}
    for spec in SPECS:
        st5 = make_model(spec, root / f"{spec.name}-st5")
        source = to_st6_layout(st5, root / f"{spec.name}-st6") if spec.layout == "st6" else st5
        prepared = root / f"{spec.name}-prepared"
        proc = run_cli("prepare", "--from", str(source), "--out", str(prepared), "--variants", "fp32,opt",
                       check=False)
        assert proc.returncode == 0, proc.stderr.decode()
        out[spec.name] = (spec, prepared, SentenceTransformer(str(st5), device="cpu"))
    return out


def embed(model_dir, inputs: list[str], engine: str, batch: int, *extra: str) -> np.ndarray:
    lines = "".join(json.dumps({"text": t}) + "\n" for t in inputs)
    proc = run_cli("embed", "--model", str(model_dir), "--engine", engine, "--format", "jsonl",
                   "--batch-size", str(batch), *extra, stdin=lines)
    return np.array([json.loads(line)["embedding"] for line in proc.stdout.decode().splitlines()],
                    dtype=np.float64)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


@pytest.mark.parametrize("name", [s.name for s in SPECS])
def test_manifest_records_pooling_prompts_and_layout(models, name):
    spec, prepared, _ = models[name]
    m = json.loads((prepared / "akidb.json").read_text())
    assert m["pooling"] == MANIFEST_POOLING[spec.pooling]
    assert m["include_prompt"] is spec.include_prompt
    assert m["normalize"] is spec.normalize
    saved = json.loads((Path(m["source"]["path"]) / "config_sentence_transformers.json").read_text())
    assert m["prompts"] == saved["prompts"]  # sentence-transformers adds "query"/"document": "" entries
    assert set(spec.prompts.items()) <= set(m["prompts"].items())
    assert m["default_prompt_name"] == spec.default_prompt_name
    assert m["max_seq_length"] == spec.max_seq_length and m["dimension"] == 32
    assert m["source"]["layout"] == spec.layout
    assert m["source"]["weights"] == ("pytorch_model.bin" if spec.weights == "bin" else "model.safetensors")
    assert (prepared / "model.safetensors").is_file(), "the native engine's weights"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", [s.name for s in SPECS])
def test_vectors_match_sentence_transformers_at_batch_1_7_64(models, name, engine):
    spec, prepared, st = models[name]
    inputs = texts()
    for batch in (1, 7, 64):
        ref = st.encode(inputs, batch_size=batch, convert_to_numpy=True)  # the default prompt, if any
        got = embed(prepared, inputs, engine, batch)
        cos = cosines(got, ref)
        assert cos.min() >= MIN_COS, f"{name} {engine} batch {batch}: min cosine {cos.min():.6f} at {cos.argmin()}"
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=ATOL)  # raw vectors: the scale too


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["bert-cls-prompts", "bert-sqrt-prompts"])
def test_named_literal_and_no_prompt_match_sentence_transformers(models, name, engine):
    _, prepared, st = models[name]
    inputs = texts()[:20]
    cases = [("--prompt-name", "passage", dict(prompt_name="passage")),
             ("--prompt-name", "query", dict(prompt_name="query")),
             ("--prompt", "Represent this: ", dict(prompt="Represent this: ")),
             ("--prompt", "", dict(prompt=""))]
    seen = []
    for flag, value, kwargs in cases:
        ref = st.encode(inputs, batch_size=7, convert_to_numpy=True, **kwargs)
        got = embed(prepared, inputs, engine, 7, flag, value)
        cos = cosines(got, ref)
        assert cos.min() >= MIN_COS, f"{name} {engine} {flag}={value!r}: min cosine {cos.min():.6f}"
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=ATOL)
        seen.append(got)
    assert not np.allclose(seen[0], seen[1], atol=1e-3), "the prompt changes the vectors"


def test_usage_counts_prompt_tokens_like_sentence_transformers(models):
    _, prepared, st = models["bert-cls-prompts"]
    inputs = ["A man is playing a guitar.", "word " * 100]
    lines = "".join(json.dumps({"text": t}) + "\n" for t in inputs)
    proc = run_cli("embed", "--model", str(prepared), "--format", "jsonl", stdin=lines)
    tokens = [json.loads(line)["tokens"] for line in proc.stdout.decode().splitlines()]
    expected = [int(sum(m)) for m in st.tokenize([PROMPTS["query"] + t for t in inputs])["attention_mask"].tolist()]
    assert tokens == expected  # the default prompt's tokens count, truncated at max_seq_length
    assert tokens[1] == 64


def test_unknown_prompt_name_is_invalid_input_naming_the_known_ones(models):
    _, prepared, _ = models["bert-cls-prompts"]
    proc = run_cli("embed", "--model", str(prepared), "--prompt-name", "search", stdin="hello\n", check=False)
    assert proc.returncode == 1
    assert "invalid_input error: unknown prompt_name 'search' (the model's prompts: document, passage, query)" in \
        proc.stderr.decode()


def test_prepare_is_reachable_from_the_cli_help():
    proc = run_cli("prepare", "--help")
    assert "--from" in proc.stdout.decode() and "--out" in proc.stdout.decode()
    assert BINARY.is_file()


@pytest.mark.parametrize("name", ["bert-max", "bert-sqrt-prompts"])
def test_python_ort_backend_pools_the_same_way(models, name):
    """The python engine's ORT back-end (it has no prompts) pools max and mean-sqrt-len too."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
    from akidb_embed.ort_backend import OrtEmbedder

    _, prepared, st = models[name]
    inputs = texts()
    ref = st.encode(inputs, batch_size=64, convert_to_numpy=True, prompt="")
    np.testing.assert_allclose(OrtEmbedder(prepared, "fp32").embed(inputs), ref, rtol=1e-3, atol=ATOL)


def test_info_shows_pooling_and_prompts(models):
    spec, prepared, _ = models["bert-sqrt-prompts"]
    info = json.loads(run_cli("info", "--model", str(prepared)).stdout)
    assert (info["pooling"], info["include_prompt"], info["normalize"]) == ("mean_sqrt_len", False, True)
    assert info["prompts"]["query"] == PROMPTS["query"] and info["default_prompt_name"] is None


def test_server_applies_prompt_names_on_tei_and_openai_routes(models, start_server):
    _, prepared, st = models["bert-cls-prompts"]
    inputs = texts()[:5]
    server = start_server(model=prepared)
    for body, kwargs in ((dict(inputs=inputs, prompt_name="passage"), dict(prompt_name="passage")),
                         (dict(inputs=inputs), dict(prompt_name="query"))):  # the default prompt
        r = requests.post(server.url + "/embed", json=body, timeout=60)
        assert r.status_code == 200, r.text
        ref = st.encode(inputs, convert_to_numpy=True, **kwargs)
        assert cosines(np.array(r.json()), ref).min() >= MIN_COS
    r = requests.post(server.url + "/v1/embeddings", json={"input": inputs, "prompt_name": "passage"}, timeout=60)
    assert r.status_code == 200, r.text
    got = np.array([d["embedding"] for d in r.json()["data"]])
    assert cosines(got, st.encode(inputs, convert_to_numpy=True, prompt_name="passage")).min() >= MIN_COS
    r = requests.post(server.url + "/embed", json={"inputs": "hi", "prompt_name": "search"}, timeout=60)
    assert r.status_code == 422
    assert "unknown prompt_name 'search' (the model's prompts: document, passage, query)" in r.json()["error"]
