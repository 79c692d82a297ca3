"""Build a BERT encoder ONNX graph straight from safetensors weights.

No torch at preparation time: the graph is written node by node with
``onnx.helper`` and the weights are numpy arrays read from the checkpoint.
That keeps the set-up light and the output byte-for-byte deterministic.

The node patterns deliberately mirror what ``torch.onnx.export`` produces for
Hugging Face ``BertModel`` (MatMul+Add projections, Reshape/Transpose head
split, Div-scaled scores, additive mask built by Unsqueeze/Cast/Sub/Mul,
Softmax, Erf GELU, LayerNormalization), because that is what
``onnxruntime.transformers.optimizer`` knows how to fuse into Attention,
SkipLayerNormalization, BiasGelu and EmbedLayerNormalization.

Graph contract:
  inputs   input_ids, attention_mask, token_type_ids: int64 [batch, sequence]
  output   last_hidden_state: float32 [batch, sequence, hidden_size]
Pooling and normalization are left to the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # first opset with the standard LayerNormalization op
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"

# Additive mask value for padded keys. Hugging Face uses finfo(float32).min;
# the product (1 - mask) * min is exactly 0 for real tokens and a finite
# -3.4e38 for padding, and softmax over a row that is all padding stays finite
# (every score is shifted by the same huge value, so the row turns uniform).
MASK_FILTER_VALUE = float(np.finfo(np.float32).min)


class WeightError(ValueError):
    """The checkpoint is unreadable, incomplete or does not match config.json."""


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    hidden_act: str = "gelu"
    position_embedding_type: str = "absolute"

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, cfg: Mapping, source: str = "config.json") -> "BertConfig":
        needed = [
            "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "max_position_embeddings", "type_vocab_size", "layer_norm_eps",
        ]
        missing = [k for k in needed if k not in cfg]
        if missing:
            raise WeightError(f"{source}: missing keys {missing}")
        c = cls(
            **{k: cfg[k] for k in needed},
            hidden_act=cfg.get("hidden_act", "gelu"),
            position_embedding_type=cfg.get("position_embedding_type", "absolute"),
        )
        if c.hidden_size % c.num_attention_heads:
            raise WeightError(f"{source}: hidden_size {c.hidden_size} not divisible by "
                              f"num_attention_heads {c.num_attention_heads}")
        if c.hidden_act != "gelu":
            raise WeightError(f"{source}: hidden_act {c.hidden_act!r} unsupported (only exact 'gelu')")
        if c.position_embedding_type != "absolute":
            raise WeightError(f"{source}: position_embedding_type {c.position_embedding_type!r} unsupported")
        return c


def load_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file as numpy; errors name the file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightError(f"{path}: weights file not found")
    try:
        out = {}
        with safe_open(str(path), framework="np") as f:
            for key in f.keys():
                out[key] = f.get_tensor(key)
        return out
    except (SafetensorError, OSError, ValueError) as e:
        raise WeightError(f"{path}: cannot read safetensors weights ({e})") from e


def _bert_weights(raw: Mapping[str, np.ndarray], cfg: BertConfig, source: str) -> dict[str, np.ndarray]:
    """Strip an optional 'bert.' prefix and check presence, shapes and finiteness."""
    prefix = "bert." if any(k.startswith("bert.embeddings.") for k in raw) else ""
    w = {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}

    H, I = cfg.hidden_size, cfg.intermediate_size
    expected = {
        "embeddings.word_embeddings.weight": (cfg.vocab_size, H),
        "embeddings.position_embeddings.weight": (cfg.max_position_embeddings, H),
        "embeddings.token_type_embeddings.weight": (cfg.type_vocab_size, H),
        "embeddings.LayerNorm.weight": (H,),
        "embeddings.LayerNorm.bias": (H,),
    }
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        for n in ("query", "key", "value"):
            expected[p + f"attention.self.{n}.weight"] = (H, H)
            expected[p + f"attention.self.{n}.bias"] = (H,)
        expected[p + "attention.output.dense.weight"] = (H, H)
        expected[p + "attention.output.dense.bias"] = (H,)
        expected[p + "attention.output.LayerNorm.weight"] = (H,)
        expected[p + "attention.output.LayerNorm.bias"] = (H,)
        expected[p + "intermediate.dense.weight"] = (I, H)
        expected[p + "intermediate.dense.bias"] = (I,)
        expected[p + "output.dense.weight"] = (H, I)
        expected[p + "output.dense.bias"] = (H,)
        expected[p + "output.LayerNorm.weight"] = (H,)
        expected[p + "output.LayerNorm.bias"] = (H,)

    missing = [k for k in expected if k not in w]
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise WeightError(f"{source}: missing tensors {missing[:3]}{more}")
    out = {}
    for k, shape in expected.items():
        a = w[k]
        if tuple(a.shape) != shape:
            raise WeightError(f"{source}: tensor {k} has shape {tuple(a.shape)}, config.json implies {shape}")
        if a.dtype != np.float32:
            a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise WeightError(f"{source}: tensor {k} contains NaN or Inf")
        out[k] = a
    return out


class _GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._names: set[str] = set()

    def init(self, name: str, array: np.ndarray) -> str:
        assert name not in self._names, name
        self._names.add(name)
        self.inits.append(numpy_helper.from_array(np.array(array, order="C", copy=True), name))
        return name

    def const(self, name: str, values, dtype) -> str:
        return self.init(name, np.asarray(values, dtype=dtype))

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        out = name + "_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        """torch Linear as exported: MatMul(x, W^T) then Add(., b)."""
        w = self.init(name + ".weight", weight.T)
        b = self.init(name + ".bias", bias)
        y = self.node("MatMul", [x, w], f"/{name}/MatMul")
        return self.node("Add", [b, y], f"/{name}/Add")

    def layer_norm(self, x: str, gamma: np.ndarray, beta: np.ndarray, eps: float, name: str,
                   output: str | None = None) -> str:
        g = self.init(name + ".weight", gamma)
        b = self.init(name + ".bias", beta)
        out = output or (f"/{name}/LayerNormalization" + "_output_0")
        self.nodes.append(helper.make_node(
            "LayerNormalization", [x, g, b], [out], name=f"/{name}/LayerNormalization",
            axis=-1, epsilon=float(eps)))
        return out


def build_bert_model(weights: Mapping[str, np.ndarray], config: BertConfig | Mapping, *,
                     source: str = "model.safetensors",
                     mask_filter_value: float = MASK_FILTER_VALUE,
                     graph_name: str = "bert") -> onnx.ModelProto:
    """Return an ONNX ModelProto computing BertModel's last_hidden_state."""
    cfg = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
    w = _bert_weights(weights, cfg, source)
    H, nh, hd = cfg.hidden_size, cfg.num_attention_heads, cfg.head_size
    eps = cfg.layer_norm_eps
    g = _GraphBuilder()

    # ---- constants shared by the whole graph
    c_one_i = g.const("/const/one_i64", 1, np.int64)           # scalar index 1 (sequence axis)
    c_axes0 = g.const("/const/axes_0", [0], np.int64)
    c_axes1 = g.const("/const/axes_1", [1], np.int64)
    c_axes2 = g.const("/const/axes_2", [2], np.int64)
    c_start0 = g.const("/const/starts_0", [0], np.int64)
    c_step1 = g.const("/const/steps_1", [1], np.int64)
    c_one_f = g.const("/const/one_f32", 1.0, np.float32)
    c_maskv = g.const("/const/mask_filter_value", mask_filter_value, np.float32)
    c_split_heads = g.const("/const/split_heads_shape", [0, 0, nh, hd], np.int64)
    c_merge_heads = g.const("/const/merge_heads_shape", [0, 0, H], np.int64)
    c_scale = g.const("/const/sqrt_head_size", math.sqrt(hd), np.float32)
    c_sqrt2 = g.const("/const/sqrt_2", math.sqrt(2.0), np.float32)
    c_half = g.const("/const/half", 0.5, np.float32)

    # ---- embeddings: word + token_type + position(arange(seq)), then LayerNorm
    word = g.init("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"])
    ttype = g.init("embeddings.token_type_embeddings.weight", w["embeddings.token_type_embeddings.weight"])
    pos = g.init("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"])
    pos_ids = g.init("embeddings.position_ids",
                     np.arange(cfg.max_position_embeddings, dtype=np.int64)[None, :])
    e_word = g.node("Gather", [word, "input_ids"], "/embeddings/word_embeddings/Gather")
    e_type = g.node("Gather", [ttype, "token_type_ids"], "/embeddings/token_type_embeddings/Gather")
    e_sum = g.node("Add", [e_word, e_type], "/embeddings/Add")
    shape = g.node("Shape", ["input_ids"], "/embeddings/Shape")
    seq_len = g.node("Gather", [shape, c_one_i], "/embeddings/Gather", axis=0)
    seq_end = g.node("Unsqueeze", [seq_len, c_axes0], "/embeddings/Unsqueeze")
    pos_slice = g.node("Slice", [pos_ids, c_start0, seq_end, c_axes1, c_step1], "/embeddings/Slice")
    e_pos = g.node("Gather", [pos, pos_slice], "/embeddings/position_embeddings/Gather")
    e_all = g.node("Add", [e_sum, e_pos], "/embeddings/Add_1")
    hidden = g.layer_norm(e_all, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps,
                          "embeddings.LayerNorm")

    # ---- extended attention mask [B,1,1,S]: (1 - mask) * mask_filter_value
    m = g.node("Unsqueeze", ["attention_mask", c_axes1], "/Unsqueeze")
    m = g.node("Unsqueeze", [m, c_axes2], "/Unsqueeze_1")
    m = g.node("Cast", [m], "/Cast", to=TensorProto.FLOAT)
    m = g.node("Sub", [c_one_f, m], "/Sub")
    ext_mask = g.node("Mul", [m, c_maskv], "/Mul")

    L = cfg.num_hidden_layers
    for i in range(L):
        p = f"encoder.layer.{i}."
        n = f"/encoder/layer.{i}"

        def heads(t: str, which: str, perm: list[int]) -> str:
            y = g.linear(hidden, w[p + f"attention.self.{which}.weight"],
                         w[p + f"attention.self.{which}.bias"], p + f"attention.self.{which}")
            r = g.node("Reshape", [y, c_split_heads], f"{n}/attention/self/{which}/Reshape")
            return g.node("Transpose", [r], f"{n}/attention/self/{which}/Transpose", perm=perm)

        q = heads(hidden, "query", [0, 2, 1, 3])   # [B,nh,S,hd]
        k = heads(hidden, "key", [0, 2, 3, 1])     # [B,nh,hd,S]
        v = heads(hidden, "value", [0, 2, 1, 3])   # [B,nh,S,hd]
        s = g.node("MatMul", [q, k], f"{n}/attention/self/MatMul")
        s = g.node("Div", [s, c_scale], f"{n}/attention/self/Div")
        s = g.node("Add", [s, ext_mask], f"{n}/attention/self/Add")
        s = g.node("Softmax", [s], f"{n}/attention/self/Softmax", axis=-1)
        ctx = g.node("MatMul", [s, v], f"{n}/attention/self/MatMul_1")
        ctx = g.node("Transpose", [ctx], f"{n}/attention/self/Transpose_3", perm=[0, 2, 1, 3])
        ctx = g.node("Reshape", [ctx, c_merge_heads], f"{n}/attention/self/Reshape_3")
        a = g.linear(ctx, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"],
                     p + "attention.output.dense")
        a = g.node("Add", [a, hidden], f"{n}/attention/output/Add")
        hidden = g.layer_norm(a, w[p + "attention.output.LayerNorm.weight"],
                              w[p + "attention.output.LayerNorm.bias"], eps, p + "attention.output.LayerNorm")

        # FFN with exact GELU: x * 0.5 * (1 + erf(x / sqrt(2)))
        f = g.linear(hidden, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"],
                     p + "intermediate.dense")
        d = g.node("Div", [f, c_sqrt2], f"{n}/intermediate/intermediate_act_fn/Div")
        e = g.node("Erf", [d], f"{n}/intermediate/intermediate_act_fn/Erf")
        e = g.node("Add", [e, c_one_f], f"{n}/intermediate/intermediate_act_fn/Add")
        half = g.node("Mul", [f, c_half], f"{n}/intermediate/intermediate_act_fn/Mul")
        f = g.node("Mul", [half, e], f"{n}/intermediate/intermediate_act_fn/Mul_1")
        o = g.linear(f, w[p + "output.dense.weight"], w[p + "output.dense.bias"], p + "output.dense")
        o = g.node("Add", [o, hidden], f"{n}/output/Add")
        hidden = g.layer_norm(o, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps,
                              p + "output.LayerNorm", output=OUTPUT_NAME if i == L - 1 else None)

    dims = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, dims) for name in INPUT_NAMES]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, dims + [H])]
    graph = helper.make_graph(g.nodes, graph_name, inputs, outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="akidb-embed.bert_graph", producer_version="1")
    model.ir_version = 8  # readable by every ONNX Runtime >= 1.14
    return model
