"""Build an MPNet encoder ONNX graph straight from safetensors weights.

MPNet (transformers' MPNetModel) is a BERT layer stack with three changes:
  - positions as in RoBERTa: pad_token_id + cumsum(input_ids != pad_token_id)
    for real tokens (padding_idx is hard-wired to 1 in MPNetEmbeddings);
  - no token type embeddings;
  - a relative position bias added to every layer's scaled attention scores:
    bias[h, i, j] = relative_attention_bias[bucket(j - i), h], one [32, heads]
    table shared by all layers (MPNetEncoder.compute_position_bias, which
    uses arange positions, not the padded position ids).

The bucket function is transformers' MPNetEncoder.relative_position_bucket
(32 buckets, max distance 128), evaluated here in float32 as torch does. The
graph holds the bias for every relative distance -(P-1)..P-1 (P =
max_position_embeddings) as a [2P-1, heads] table and gathers it with
index (j - i + P - 1) for the batch's sequence length.

Same contract as bert_graph.build_bert_model, minus the token_type_ids input:
  inputs   input_ids, attention_mask: int64 [batch, sequence]
  output   last_hidden_state: float32 [batch, sequence, hidden_size]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import onnx

from .bert_graph import (MASK_FILTER_VALUE, BertConfig, GraphBuilder, WeightError, check_tensors,
                         encoder_layers, finish_model, strip_prefix)

INPUT_NAMES = ("input_ids", "attention_mask")
PADDING_IDX = 1  # MPNetEmbeddings.padding_idx, fixed in transformers whatever config.json says
MAX_DISTANCE = 128


@dataclass(frozen=True)
class MPNetConfig(BertConfig):
    """BERT's shape with RoBERTa positions (model_type "roberta", pad 1), one
    token type of zeros and the relative attention bias buckets."""
    relative_attention_num_buckets: int = 32


def parse_config(cfg: Mapping, source: str = "config.json") -> MPNetConfig:
    """MPNetConfig from an MPNet config.json dict; WeightError names the file and field."""
    if cfg.get("model_type") != "mpnet":
        raise WeightError(f"{source}: model_type {cfg.get('model_type')!r} is not 'mpnet'")
    buckets = cfg.get("relative_attention_num_buckets", 32)
    if not isinstance(buckets, int) or buckets < 4 or buckets % 4:
        raise WeightError(f"{source}: relative_attention_num_buckets {buckets} unsupported (a multiple of 4)")
    shape = BertConfig.from_dict(dict(cfg, type_vocab_size=1, model_type="roberta", pad_token_id=PADDING_IDX),
                                 source=source)
    return MPNetConfig(**vars(shape), relative_attention_num_buckets=buckets)


def expected_fusions(cfg: BertConfig) -> dict[str, int]:
    """Fused operators onnxruntime.transformers.optimizer (model_type "bert")
    must produce: its Attention fusion has no slot for the relative position
    bias, so each layer keeps its Softmax (allowed_unfused); the projections,
    LayerNorms, GELU and the embedding still fuse."""
    L = cfg.num_hidden_layers
    return {"EmbedLayerNormalization": 1, "SkipLayerNormalization": 2 * L, "BiasGelu": L}


def allowed_unfused(cfg: BertConfig) -> dict[str, int]:
    return {"Softmax": cfg.num_hidden_layers}


def relative_position_bucket(relative_position: np.ndarray, num_buckets: int = 32,
                             max_distance: int = MAX_DISTANCE) -> np.ndarray:
    """transformers' MPNetEncoder.relative_position_bucket in numpy, float32 like torch."""
    n = -np.asarray(relative_position, dtype=np.int64)
    num_buckets //= 2
    ret = (n < 0).astype(np.int64) * num_buckets
    n = np.abs(n)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        scaled = (np.log(n.astype(np.float32) / np.float32(max_exact))
                  / np.float32(math.log(max_distance / max_exact)) * np.float32(num_buckets - max_exact))
    large = max_exact + np.where(n < max_exact, 0, scaled).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    return ret + np.where(n < max_exact, n, large)


def bias_by_distance(table: np.ndarray, max_positions: int, num_buckets: int) -> np.ndarray:
    """[2P-1, heads]: row d + P - 1 is the bias of relative distance d = j - i."""
    distance = np.arange(-(max_positions - 1), max_positions, dtype=np.int64)
    return table[relative_position_bucket(distance, num_buckets)].astype(np.float32)


def mpnet_weights(raw: Mapping[str, np.ndarray], cfg: MPNetConfig, source: str) -> dict[str, np.ndarray]:
    """Checked float32 tensors under bert_graph's names (plus the bias table)."""
    w = strip_prefix(raw, ("mpnet.",))
    H, I = cfg.hidden_size, cfg.intermediate_size
    expected = {
        "embeddings.word_embeddings.weight": (cfg.vocab_size, H),
        "embeddings.position_embeddings.weight": (cfg.max_position_embeddings, H),
        "embeddings.LayerNorm.weight": (H,),
        "embeddings.LayerNorm.bias": (H,),
        "encoder.relative_attention_bias.weight": (cfg.relative_attention_num_buckets, cfg.num_attention_heads),
    }
    rename = {}
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        for ours, bert in (("q", "self.query"), ("k", "self.key"), ("v", "self.value"), ("o", "output.dense")):
            for part, shape in (("weight", (H, H)), ("bias", (H,))):
                expected[p + f"attention.attn.{ours}.{part}"] = shape
                rename[p + f"attention.attn.{ours}.{part}"] = p + f"attention.{bert}.{part}"
        for part in ("weight", "bias"):
            expected[p + f"attention.LayerNorm.{part}"] = (H,)
            rename[p + f"attention.LayerNorm.{part}"] = p + f"attention.output.LayerNorm.{part}"
            expected[p + f"output.LayerNorm.{part}"] = (H,)
        expected[p + "intermediate.dense.weight"] = (I, H)
        expected[p + "intermediate.dense.bias"] = (I,)
        expected[p + "output.dense.weight"] = (H, I)
        expected[p + "output.dense.bias"] = (H,)
    checked = check_tensors(w, expected, source)
    return {rename.get(k, k): v for k, v in checked.items()}


def build_mpnet_model(weights: Mapping[str, np.ndarray], config: MPNetConfig | Mapping, *,
                      source: str = "model.safetensors",
                      mask_filter_value: float = MASK_FILTER_VALUE,
                      graph_name: str = "mpnet") -> onnx.ModelProto:
    """Return an ONNX ModelProto computing MPNetModel's last_hidden_state."""
    cfg = config if isinstance(config, MPNetConfig) else parse_config(config)
    buckets = cfg.relative_attention_num_buckets
    w = mpnet_weights(weights, cfg, source)
    g = GraphBuilder(cfg, mask_filter_value)
    P = cfg.max_position_embeddings

    word = g.init("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"])
    pos = g.init("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"])
    e_word = g.node("Gather", [word, "input_ids"], "/embeddings/word_embeddings/Gather")
    e_pos = g.node("Gather", [pos, g.position_ids(cfg)], "/embeddings/position_embeddings/Gather")
    e_all = g.node("Add", [e_word, e_pos], "/embeddings/Add_1")
    hidden = g.layer_norm(e_all, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"],
                          cfg.layer_norm_eps, "embeddings.LayerNorm")

    # ---- relative position bias [1, nh, S, S], computed once for all layers
    table = g.init("encoder.relative_attention_bias.by_distance",
                   bias_by_distance(w["encoder.relative_attention_bias.weight"], P, buckets))
    seq = g.sequence_length("/encoder/position_bias")
    zero = g.const("/const/zero_i64", 0, np.int64)
    r = g.node("Range", [zero, seq, g.c_one_i], "/encoder/position_bias/Range")
    keys = g.node("Unsqueeze", [r, g.c_axes0], "/encoder/position_bias/Unsqueeze")       # [1, S]: j
    queries = g.node("Unsqueeze", [r, g.c_axes1], "/encoder/position_bias/Unsqueeze_1")  # [S, 1]: i
    rel = g.node("Sub", [keys, queries], "/encoder/position_bias/Sub")
    centre = g.const("/const/max_position_minus_1", P - 1, np.int64)
    rel = g.node("Add", [rel, centre], "/encoder/position_bias/Add")
    bias = g.node("Gather", [table, rel], "/encoder/position_bias/Gather_1", axis=0)       # [S, S, nh]
    bias = g.node("Transpose", [bias], "/encoder/position_bias/Transpose", perm=[2, 0, 1])
    bias = g.node("Unsqueeze", [bias, g.c_axes0], "/encoder/position_bias/Unsqueeze_2")

    encoder_layers(g, w, cfg, hidden, g.extended_mask(), position_bias=bias)
    return finish_model(g, cfg.hidden_size, INPUT_NAMES, graph_name, "akidb-embed.mpnet_graph")
