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


# config.json model types whose positions start at pad_token_id + 1 (RoBERTa family).
ROBERTA_TYPES = ("xlm-roberta", "roberta")


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
    # "bert": position ids 0..S-1. "xlm-roberta" / "roberta": fairseq positions,
    # pad_token_id + cumsum(input_ids != pad_token_id) for real tokens and
    # pad_token_id for pad tokens (create_position_ids_from_input_ids).
    model_type: str = "bert"
    pad_token_id: int = 0

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def fairseq_positions(self) -> bool:
        return self.model_type in ROBERTA_TYPES

    @property
    def max_positions(self) -> int:
        """The longest input in tokens: RoBERTa-family positions start at pad_token_id + 1."""
        offset = self.pad_token_id + 1 if self.fairseq_positions else 0
        return self.max_position_embeddings - offset

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
            model_type=cfg.get("model_type", "bert"),
            pad_token_id=int(cfg.get("pad_token_id", 1 if cfg.get("model_type") in ROBERTA_TYPES else 0)),
        )
        if c.model_type not in ("bert", *ROBERTA_TYPES):
            raise WeightError(f"{source}: model_type {c.model_type!r} is not a BERT-family encoder "
                              f"(bert, {', '.join(ROBERTA_TYPES)})")
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
    """Strip an optional 'bert.' / 'roberta.' prefix and check presence, shapes and finiteness."""
    w = strip_prefix(raw, ("bert.", "roberta."))

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

    return check_tensors(w, expected, source)


def strip_prefix(raw: Mapping[str, np.ndarray], prefixes: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The tensors under the first prefix that holds the embeddings, prefix removed (else all)."""
    for prefix in prefixes:
        if any(k.startswith(prefix + "embeddings.") for k in raw):
            return {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}
    return dict(raw)


def check_tensors(w: Mapping[str, np.ndarray], expected: Mapping[str, tuple], source: str) -> dict[str, np.ndarray]:
    """The expected tensors as float32; WeightError for a missing, misshapen or non-finite one."""
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


class GraphBuilder(_GraphBuilder):
    """The node writer plus the constants every encoder graph shares."""

    def __init__(self, cfg: BertConfig, mask_filter_value: float) -> None:
        super().__init__()
        H, nh, hd = cfg.hidden_size, cfg.num_attention_heads, cfg.head_size
        self.c_one_i = self.const("/const/one_i64", 1, np.int64)  # scalar index 1 (sequence axis)
        self.c_axes0 = self.const("/const/axes_0", [0], np.int64)
        self.c_axes1 = self.const("/const/axes_1", [1], np.int64)
        self.c_axes2 = self.const("/const/axes_2", [2], np.int64)
        self.c_start0 = self.const("/const/starts_0", [0], np.int64)
        self.c_step1 = self.const("/const/steps_1", [1], np.int64)
        self.c_one_f = self.const("/const/one_f32", 1.0, np.float32)
        self.c_maskv = self.const("/const/mask_filter_value", mask_filter_value, np.float32)
        self.c_split_heads = self.const("/const/split_heads_shape", [0, 0, nh, hd], np.int64)
        self.c_merge_heads = self.const("/const/merge_heads_shape", [0, 0, H], np.int64)
        self.c_scale = self.const("/const/sqrt_head_size", math.sqrt(hd), np.float32)
        self.c_sqrt2 = self.const("/const/sqrt_2", math.sqrt(2.0), np.float32)
        self.c_half = self.const("/const/half", 0.5, np.float32)

    def sequence_length(self, prefix: str) -> str:
        """Int64 scalar S of input_ids [B, S]."""
        shape = self.node("Shape", ["input_ids"], f"{prefix}/Shape")
        return self.node("Gather", [shape, self.c_one_i], f"{prefix}/Gather", axis=0)

    def position_ids(self, cfg: BertConfig) -> str:
        """[1, S] arange (BERT) or [B, S] fairseq positions (RoBERTa family)."""
        if not cfg.fairseq_positions:
            pos_ids = self.init("embeddings.position_ids",
                                np.arange(cfg.max_position_embeddings, dtype=np.int64)[None, :])
            seq_end = self.node("Unsqueeze", [self.sequence_length("/embeddings"), self.c_axes0],
                                "/embeddings/Unsqueeze")
            return self.node("Slice", [pos_ids, self.c_start0, seq_end, self.c_axes1, self.c_step1],
                             "/embeddings/Slice")
        # transformers' create_position_ids_from_input_ids:
        #   mask = input_ids != pad; (cumsum(mask, 1) * mask) + pad
        pad = self.const("/const/padding_idx", cfg.pad_token_id, np.int64)
        eq = self.node("Equal", ["input_ids", pad], "/embeddings/Equal")
        ne = self.node("Not", [eq], "/embeddings/Not")
        m = self.node("Cast", [ne], "/embeddings/Cast", to=TensorProto.INT64)
        cs = self.node("CumSum", [m, self.c_one_i], "/embeddings/CumSum")
        cs = self.node("Mul", [cs, m], "/embeddings/Mul")
        return self.node("Add", [cs, pad], "/embeddings/Add_pos")

    def extended_mask(self) -> str:
        """[B,1,1,S]: (1 - mask) * mask_filter_value."""
        m = self.node("Unsqueeze", ["attention_mask", self.c_axes1], "/Unsqueeze")
        m = self.node("Unsqueeze", [m, self.c_axes2], "/Unsqueeze_1")
        m = self.node("Cast", [m], "/Cast", to=TensorProto.FLOAT)
        m = self.node("Sub", [self.c_one_f, m], "/Sub")
        return self.node("Mul", [m, self.c_maskv], "/Mul")


def encoder_layers(g: GraphBuilder, w: Mapping[str, np.ndarray], cfg: BertConfig, hidden: str,
                   ext_mask: str, position_bias: str | None = None) -> str:
    """The BERT layer stack (HF names after the prefix); position_bias [1|B, nh, S, S]
    is added to the scaled scores before the mask (MPNet's relative attention bias)."""
    eps = cfg.layer_norm_eps
    L = cfg.num_hidden_layers
    for i in range(L):
        p = f"encoder.layer.{i}."
        n = f"/encoder/layer.{i}"

        def heads(which: str, perm: list[int]) -> str:
            y = g.linear(hidden, w[p + f"attention.self.{which}.weight"],
                         w[p + f"attention.self.{which}.bias"], p + f"attention.self.{which}")
            r = g.node("Reshape", [y, g.c_split_heads], f"{n}/attention/self/{which}/Reshape")
            return g.node("Transpose", [r], f"{n}/attention/self/{which}/Transpose", perm=perm)

        q = heads("query", [0, 2, 1, 3])   # [B,nh,S,hd]
        k = heads("key", [0, 2, 3, 1])     # [B,nh,hd,S]
        v = heads("value", [0, 2, 1, 3])   # [B,nh,S,hd]
        s = g.node("MatMul", [q, k], f"{n}/attention/self/MatMul")
        s = g.node("Div", [s, g.c_scale], f"{n}/attention/self/Div")
        if position_bias is not None:
            s = g.node("Add", [s, position_bias], f"{n}/attention/self/Add_bias")
        s = g.node("Add", [s, ext_mask], f"{n}/attention/self/Add")
        s = g.node("Softmax", [s], f"{n}/attention/self/Softmax", axis=-1)
        ctx = g.node("MatMul", [s, v], f"{n}/attention/self/MatMul_1")
        ctx = g.node("Transpose", [ctx], f"{n}/attention/self/Transpose_3", perm=[0, 2, 1, 3])
        ctx = g.node("Reshape", [ctx, g.c_merge_heads], f"{n}/attention/self/Reshape_3")
        a = g.linear(ctx, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"],
                     p + "attention.output.dense")
        a = g.node("Add", [a, hidden], f"{n}/attention/output/Add")
        hidden = g.layer_norm(a, w[p + "attention.output.LayerNorm.weight"],
                              w[p + "attention.output.LayerNorm.bias"], eps, p + "attention.output.LayerNorm")

        # FFN with exact GELU: x * 0.5 * (1 + erf(x / sqrt(2)))
        f = g.linear(hidden, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"],
                     p + "intermediate.dense")
        d = g.node("Div", [f, g.c_sqrt2], f"{n}/intermediate/intermediate_act_fn/Div")
        e = g.node("Erf", [d], f"{n}/intermediate/intermediate_act_fn/Erf")
        e = g.node("Add", [e, g.c_one_f], f"{n}/intermediate/intermediate_act_fn/Add")
        half = g.node("Mul", [f, g.c_half], f"{n}/intermediate/intermediate_act_fn/Mul")
        f = g.node("Mul", [half, e], f"{n}/intermediate/intermediate_act_fn/Mul_1")
        o = g.linear(f, w[p + "output.dense.weight"], w[p + "output.dense.bias"], p + "output.dense")
        o = g.node("Add", [o, hidden], f"{n}/output/Add")
        hidden = g.layer_norm(o, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], eps,
                              p + "output.LayerNorm", output=OUTPUT_NAME if i == L - 1 else None)
    return hidden


def finish_model(g: GraphBuilder, hidden_size: int, input_names: tuple[str, ...], graph_name: str,
                 producer: str) -> onnx.ModelProto:
    dims = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, dims) for name in input_names]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, dims + [hidden_size])]
    used = {name for n in g.nodes for name in n.input}
    inits = [t for t in g.inits if t.name in used]  # shared constants a family does not need
    graph = helper.make_graph(g.nodes, graph_name, inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=producer, producer_version="1")
    model.ir_version = 8  # readable by every ONNX Runtime >= 1.14
    return model


def parse_config(cfg: Mapping, source: str = "config.json") -> BertConfig:
    return BertConfig.from_dict(cfg, source=source)


def expected_fusions(cfg: BertConfig) -> dict[str, int]:
    """Fused operators onnxruntime.transformers.optimizer (model_type "bert")
    must produce. Its embedding fusion knows only arange positions, so the
    RoBERTa family keeps its embedding LayerNormalization (allowed_unfused)."""
    L = cfg.num_hidden_layers
    fused = {"Attention": L, "SkipLayerNormalization": 2 * L, "BiasGelu": L}
    return fused if cfg.fairseq_positions else {"EmbedLayerNormalization": 1, **fused}


def allowed_unfused(cfg: BertConfig) -> dict[str, int]:
    """Plain LayerNormalization / Softmax / Erf nodes allowed after fusion."""
    return {"LayerNormalization": 1} if cfg.fairseq_positions else {}


def build_bert_model(weights: Mapping[str, np.ndarray], config: BertConfig | Mapping, *,
                     source: str = "model.safetensors",
                     mask_filter_value: float = MASK_FILTER_VALUE,
                     graph_name: str = "bert") -> onnx.ModelProto:
    """Return an ONNX ModelProto computing BertModel's (or XLMRobertaModel's) last_hidden_state."""
    cfg = config if isinstance(config, BertConfig) else BertConfig.from_dict(config)
    w = _bert_weights(weights, cfg, source)
    g = GraphBuilder(cfg, mask_filter_value)

    # ---- embeddings: word + token_type + position, then LayerNorm
    word = g.init("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"])
    ttype = g.init("embeddings.token_type_embeddings.weight", w["embeddings.token_type_embeddings.weight"])
    pos = g.init("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"])
    e_word = g.node("Gather", [word, "input_ids"], "/embeddings/word_embeddings/Gather")
    e_type = g.node("Gather", [ttype, "token_type_ids"], "/embeddings/token_type_embeddings/Gather")
    e_sum = g.node("Add", [e_word, e_type], "/embeddings/Add")
    e_pos = g.node("Gather", [pos, g.position_ids(cfg)], "/embeddings/position_embeddings/Gather")
    e_all = g.node("Add", [e_sum, e_pos], "/embeddings/Add_1")
    hidden = g.layer_norm(e_all, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"],
                          cfg.layer_norm_eps, "embeddings.LayerNorm")

    encoder_layers(g, w, cfg, hidden, g.extended_mask())
    return finish_model(g, cfg.hidden_size, INPUT_NAMES, graph_name, "akidb-embed.bert_graph")
