"""XLM-RoBERTa and MPNet end to end: synthetic sentence-transformers folders
(tests/e2e/arch_models.py) are prepared into our model directory, and every
engine's vectors are compared with sentence-transformers at batch 1, 7 and
64, and the tokenizers with Hugging Face `tokenizers` on the STS-B text of all
8 languages.

The model directories are written by prepare_model.prepare(out, source=...);
`akidb-embed prepare --from DIR` is the same call from the command line.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import arch_models
from helpers import BINARY, ROOT
from test_tokenizer_parity import compare, edge_cases

sys.path.insert(0, str(ROOT / "python"))  # this checkout's akidb_embed, not an installed copy

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BATCHES = (1, 7, 64)
FAMILIES = ("xlmr", "mpnet")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{family: (sentence-transformers folder, our model directory)}."""
    from akidb_embed import prepare_model

    root = tmp_path_factory.mktemp("arch")
    out = {}
    for family, make in (("xlmr", arch_models.make_xlmr), ("mpnet", arch_models.make_mpnet)):
        st_dir = make(root / family)
        model_dir = root / f"{family}.model"
        prepare_model.prepare(model_dir, st_dir, variants=("fp32", "opt"), log=lambda s: None)
        out[family] = (st_dir, model_dir)
    return out


def texts_for_vectors() -> list[str]:
    """64 texts: STS-B sentences of every language, edge cases, one past the truncation."""
    stsb = arch_models.stsb_sentences(pairs_per_file=300)
    picked = stsb[::len(stsb) // 54][:54]
    return picked + ["", " ", "<pad>", "a <pad> b <s> c </s>", "<mask> token", "x" * 300,
                     "naïve café — ÅÄÖ ½ ﬁ", "中文分词测试，你好世界。", "ok " * 300, "Hello!!  World\t\n"]


def embed(model_dir: Path, texts: list[str], *args: str) -> np.ndarray:
    import subprocess

    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    proc = subprocess.run([str(BINARY), "embed", "--model", str(model_dir), "--format", "jsonl", *args],
                          input=lines.encode(), capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["index"] for r in rows] == list(range(len(texts)))
    return np.array([r["embedding"] for r in rows], dtype=np.float32)


@pytest.fixture(scope="module")
def references(models):
    from sentence_transformers import SentenceTransformer

    texts = texts_for_vectors()
    assert len(texts) == 64
    return {family: SentenceTransformer(str(st_dir), device="cpu").encode(texts, convert_to_numpy=True)
            for family, (st_dir, _) in models.items()}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("engine", [("--engine", "onnx", "--variant", "fp32"),
                                    ("--engine", "onnx", "--variant", "opt"),
                                    ("--engine", "native")], ids=["onnx-fp32", "onnx-opt", "native"])
def test_vectors_match_sentence_transformers(models, references, family, engine):
    texts = texts_for_vectors()
    ref = references[family]
    for batch in BATCHES:
        got = embed(models[family][1], texts, *engine, "--batch-size", str(batch))
        cos = np.sum(got * ref, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
        worst = int(np.argmin(cos))
        assert cos.min() >= 0.9999, f"batch {batch}: cosine {cos.min():.6f} on {texts[worst][:60]!r}"


def test_manifest_names_the_architecture(models):
    for family, model_type, inputs in (("xlmr", "xlm-roberta", ["input_ids", "attention_mask", "token_type_ids"]),
                                       ("mpnet", "mpnet", ["input_ids", "attention_mask"])):
        manifest = json.loads((models[family][1] / "akidb.json").read_text())
        assert manifest["architecture"]["model_type"] == model_type
        assert manifest["inputs"] == inputs


@pytest.mark.parametrize("family", FAMILIES)
def test_tokenizer_matches_hf_on_stsb_of_all_languages(models, family):
    tokenizer_json = models[family][1] / "tokenizer.json"
    max_length = json.loads((models[family][1] / "akidb.json").read_text())["max_seq_length"]
    texts = arch_models.stsb_sentences() + edge_cases() + texts_for_vectors()
    assert compare(texts, tokenizer_json, max_length=max_length) > 20_000


def test_unigram_with_roberta_processing_matches_hf(models, tmp_path):
    """The same Unigram model behind RobertaProcessing (trim_offsets) instead of the template."""
    tok = json.loads((models["xlmr"][1] / "tokenizer.json").read_text(encoding="utf-8"))
    tok["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                             "trim_offsets": True, "add_prefix_space": True}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    texts = arch_models.stsb_sentences(pairs_per_file=300) + edge_cases()
    compare(texts, path, max_length=128)


def _copy_with_config(src: Path, dst: Path, **changes) -> Path:
    import shutil

    shutil.copytree(src, dst)
    cfg = json.loads((dst / "config.json").read_text())
    cfg.update(changes)
    (dst / "config.json").write_text(json.dumps(cfg))
    return dst


@pytest.mark.parametrize("changes, message", [
    ({"model_type": "deberta-v2"}, "model_type 'deberta-v2' is not supported (supported: bert, mpnet, xlm-roberta)"),
    ({"relative_attention_num_buckets": 6}, "relative_attention_num_buckets 6 unsupported (a multiple of 4)"),
    ({"hidden_act": "gelu_new"}, "hidden_act 'gelu_new' unsupported (only exact 'gelu')"),
], ids=["unknown-architecture", "mpnet-buckets", "activation"])
def test_unsupported_config_is_refused_naming_file_and_field(models, tmp_path, changes, message):
    from akidb_embed import prepare_model

    src = _copy_with_config(models["mpnet"][0], tmp_path / "src", **changes)
    with pytest.raises(prepare_model.PrepareError) as e:
        prepare_model.prepare(tmp_path / "out", src, variants=("fp32",), log=lambda s: None)
    assert str(e.value) == f"{src / 'config.json'}: {message}"
    assert not (tmp_path / "out").exists()


def test_int8_is_refused_outside_bert(models, tmp_path):
    from akidb_embed import prepare_model

    with pytest.raises(prepare_model.PrepareError,
                       match="--variants int8: the int8 recipe is measured for bert only, not model_type 'mpnet'"):
        prepare_model.prepare(tmp_path / "out", models["mpnet"][0], variants=("fp32", "opt", "int8"),
                              log=lambda s: None)

