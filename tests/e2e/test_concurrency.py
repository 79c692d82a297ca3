"""One server, four engines, mixed concurrent load, every vector bit for bit.

One `akidb-embed serve` process serves all-MiniLM-L6-v2 four times, as four
named models: the native engine in fp32, bf16 and int8, and ONNX Runtime
(its default graph). First each text of a fixed pool is embedded alone (one
text per request) on each model: those are the reference vectors. Then, for
AKIDB_CONCURRENCY_SECONDS (default 60) seconds, client threads load all four
models at once: per model, one client sends large requests (33 to 64 inputs,
short texts and ~250-token ones), two send single short texts (the express
lane's work, beside the large batches) and one sends 1 to 32 mixed inputs.
Every vector that comes back must equal its text's reference exactly:

- /v1/embeddings with encoding_format "base64" returns the float32 bytes
  themselves, compared byte for byte;
- TEI's /embed (the default model) returns shortest round-trip decimals
  (src/core/float_format.hpp, std::to_chars), parsed as strings and compared
  with the reference request's strings: equal strings are equal floats.

Passes with 0 mismatches, 0 errors or timeouts, and /metrics showing that the
load was concurrent: on every model, batches merging several requests and
batches run by the express lane. Run it longer by hand with e.g.
AKIDB_CONCURRENCY_SECONDS=600.
"""
from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import Server
from helpers import MODEL_DIR

SECONDS = float(os.environ.get("AKIDB_CONCURRENCY_SECONDS", "60"))
MODELS = {  # name -> (engine, variant)
    "native-fp32": ("native", "fp32"),
    "native-bf16": ("native", "bf16"),
    "native-int8": ("native", "int8"),
    "onnx": ("onnx", "opt"),
}
DEFAULT = "native-fp32"  # the first entry: TEI's /embed serves it
WORDS = ("the quick brown fox jumps over a lazy dog while seven bright stars shine above "
         "quiet hills and rivers flow toward distant seas under a pale moon").split()
TIMEOUT = 300  # seconds: a client that waits this long counts as a timeout


def text_pool() -> tuple[list[str], list[str]]:
    """(short, long): 32 texts of 3-16 words, 8 of ~250 tokens (each word above is one token)."""
    rng = random.Random(21)
    short = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 16))) + f" #{i}" for i in range(32)]
    long = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(240, 250))) for _ in range(8)]
    return short, long


def openai_vectors(session: requests.Session, url: str, model: str, texts: list[str]) -> list[bytes]:
    r = session.post(url + "/v1/embeddings", timeout=TIMEOUT,
                     json={"input": texts, "model": model, "encoding_format": "base64"})
    r.raise_for_status()
    data = r.json()["data"]
    assert [d["index"] for d in data] == list(range(len(texts)))
    return [base64.b64decode(d["embedding"]) for d in data]


def tei_vectors(session: requests.Session, url: str, texts: list[str]) -> list[list[str]]:
    r = session.post(url + "/embed", json={"inputs": texts}, timeout=TIMEOUT)
    r.raise_for_status()
    return json.loads(r.text, parse_float=str, parse_int=str)  # the server's digits, exactly


def counters(url: str) -> dict[tuple[str, str], float]:
    """(family, model) -> value of the batch counters."""
    out = {}
    for f in text_string_to_metric_families(requests.get(url + "/metrics", timeout=30).text):
        if f.name in ("akidb_batches_merged", "akidb_batches_express"):
            for s in f.samples:
                if s.name.endswith("_total"):
                    out[(f.name, s.labels["model"])] = s.value
    return out


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter = field(default_factory=Counter)  # by model
    vectors: int = 0
    mismatched: int = 0
    mismatches: list = field(default_factory=list)  # the first few, for the message
    errors: list = field(default_factory=list)

    def add(self, model: str, vectors: int, mismatched: list) -> None:
        with self.lock:
            self.requests[model] += 1
            self.vectors += vectors
            self.mismatched += len(mismatched)
            self.mismatches += mismatched[: max(0, 10 - len(self.mismatches))]


@pytest.fixture(scope="module")
def four_engines(tmp_path_factory):
    models = [{"path": str(MODEL_DIR), "name": name, "engine": engine, "variant": variant, "threads": 2}
              for name, (engine, variant) in MODELS.items()]
    path = tmp_path_factory.mktemp("concurrency") / "models.json"
    path.write_text(json.dumps({"models": models}))
    s = Server("--models-file", str(path), "--request-timeout-ms", str(TIMEOUT * 1000), model=None)
    yield s
    assert s.terminate() == 0, s.output()


def client(url: str, model: str, kind: str, seed: int, stop_at: float, short: list[str], long: list[str],
           refs: dict, tei_refs: dict, tally: Tally) -> None:
    rng = random.Random(seed)
    with requests.Session() as session:
        while time.monotonic() < stop_at:
            if kind == "bulk":
                texts = [rng.choice(long) if rng.random() < 0.25 else rng.choice(short)
                         for _ in range(rng.randint(33, 64))]
            elif kind == "short":
                texts = [rng.choice(short)]
            else:
                texts = [rng.choice(long) if rng.random() < 0.2 else rng.choice(short)
                         for _ in range(rng.randint(1, 32))]
            tei = model == DEFAULT and rng.random() < 0.5
            try:
                if tei:
                    got = tei_vectors(session, url, texts)
                    bad = [t for t, v in zip(texts, got) if v != tei_refs[t]]
                else:
                    got = openai_vectors(session, url, model, texts)
                    bad = [t for t, v in zip(texts, got) if v != refs[model][t]]
            except (requests.RequestException, ValueError, KeyError) as e:
                with tally.lock:
                    tally.errors.append(f"{model} {kind} {len(texts)} inputs: {type(e).__name__}: {e}")
                continue
            tally.add(model, len(texts), [(model, "tei" if tei else "openai", len(texts), t[:40]) for t in bad])


def test_four_engines_under_mixed_concurrent_load_match_single_requests_bit_for_bit(four_engines):
    url = four_engines.url
    short, long = text_pool()
    refs = {}
    with requests.Session() as session:
        for model in MODELS:  # one text per request, nothing else running
            refs[model] = {t: openai_vectors(session, url, model, [t])[0] for t in short + long}
            assert len(refs[model][short[0]]) == 384 * 4
        tei_refs = {t: tei_vectors(session, url, [t])[0] for t in short + long}
    before = counters(url)

    tally = Tally()
    stop_at = time.monotonic() + SECONDS
    threads = []
    for m, model in enumerate(MODELS):
        for k, kind in enumerate(("bulk", "short", "short", "mixed")):
            threads.append(threading.Thread(
                target=client, args=(url, model, kind, 100 * m + k, stop_at, short, long, refs, tei_refs, tally)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = counters(url)

    print(f"{sum(tally.requests.values())} requests ({dict(tally.requests)}), {tally.vectors} vectors "
          f"in {SECONDS:.0f} s; {tally.mismatched} mismatched, {len(tally.errors)} errors; "
          f"batch counters during the load: { {k: after[k] - before.get(k, 0) for k in after} }")
    assert not tally.errors, tally.errors[:5]
    assert tally.mismatched == 0, tally.mismatches
    for model in MODELS:
        assert tally.requests[model] > 0, model
        for family in ("akidb_batches_merged", "akidb_batches_express"):
            assert after[(family, model)] - before.get((family, model), 0) > 0, (family, model)
