"""The one place that maps a checkpoint's architecture to what prepares it.

config.json names its architecture twice: ``model_type`` ("bert") and
``architectures`` (["BertModel"]). ``resolve()`` turns either into an
``Architecture``: how to read config.json, how to build the ONNX encoder
graph from the weights, how onnxruntime's transformer optimizer fuses it
(the ``opt`` variant), and whether the native C++ engine runs it.

To add a family, write its graph builder with the same signature as
``bert_graph.build_bert_model(weights, config, *, source)`` and add one
entry to ``ARCHITECTURES`` (and its class names to ``CLASS_NAMES``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from . import bert_graph, mpnet_graph
from ._errors import ModelError


@dataclass(frozen=True)
class Architecture:
    name: str  # the manifest's architecture.model_type
    # (config.json dict, source path for messages) -> a config object with
    # hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
    # vocab_size and max_position_embeddings. Raises bert_graph.WeightError.
    parse_config: Callable[[Mapping, str], Any]
    # (weights by tensor name, config object, source=...) -> onnx.ModelProto
    # with inputs input_ids/attention_mask[/token_type_ids] and output
    # last_hidden_state. Raises bert_graph.WeightError naming `source`.
    build_graph: Callable[..., Any]
    # onnxruntime.transformers.optimizer model_type for the fused `opt`
    # variant, and the fused-op counts that prove the fusion was complete.
    optimizer_type: str | None
    expected_fusions: Callable[[Any], dict[str, int]] | None
    native: bool  # the native C++ engine (src/engines/native) runs it
    # The longest input in tokens the position table allows.
    max_positions: Callable[[Any], int]
    # Plain LayerNormalization / Softmax / Erf nodes the fusion may leave.
    allowed_unfused: Callable[[Any], dict[str, int]] = lambda cfg: {}
    # Whether the int8 recipe (prepare_model.INT8_RECIPE) was measured on it.
    int8: bool = False


BERT = Architecture(
    name="bert",
    parse_config=lambda cfg, source: bert_graph.BertConfig.from_dict(cfg, source=source),
    build_graph=bert_graph.build_bert_model,
    optimizer_type="bert",
    expected_fusions=bert_graph.expected_fusions,
    allowed_unfused=bert_graph.allowed_unfused,
    native=True,
    max_positions=lambda cfg: cfg.max_positions,
    int8=True,
)

# BERT's graph with fairseq positions (pad_token_id + 1 + position) and one
# token type: only the name differs, and the int8 recipe was measured on BERT.
XLM_ROBERTA = dataclasses.replace(BERT, name="xlm-roberta", int8=False)

# Relative position bias in attention, RoBERTa positions, no token types.
MPNET = Architecture(
    name="mpnet",
    parse_config=lambda cfg, source: mpnet_graph.parse_config(cfg, source=source),
    build_graph=mpnet_graph.build_mpnet_model,
    optimizer_type="bert",
    expected_fusions=mpnet_graph.expected_fusions,
    allowed_unfused=mpnet_graph.allowed_unfused,
    native=True,
    max_positions=lambda cfg: cfg.max_positions,
)

# model_type -> Architecture.
ARCHITECTURES: dict[str, Architecture] = {"bert": BERT, "xlm-roberta": XLM_ROBERTA, "mpnet": MPNET}
# config.json `architectures` class names -> model_type (used when model_type is absent).
CLASS_NAMES: dict[str, str] = {
    "BertModel": "bert",
    "BertForMaskedLM": "bert",
    "BertForPreTraining": "bert",
    "XLMRobertaModel": "xlm-roberta",
    "XLMRobertaForMaskedLM": "xlm-roberta",
    "MPNetModel": "mpnet",
    "MPNetForMaskedLM": "mpnet",
}


def resolve(config: Mapping, source: str) -> Architecture:
    """The Architecture of a config.json dict; ModelError names the file and field."""
    model_type = config.get("model_type")
    if model_type is not None:
        arch = ARCHITECTURES.get(model_type)
        if arch is None:
            raise ModelError(f"{source}: model_type {model_type!r} is not supported "
                             f"(supported: {', '.join(sorted(ARCHITECTURES))})")
        return arch
    classes = config.get("architectures") or []
    for name in classes:
        if name in CLASS_NAMES:
            return ARCHITECTURES[CLASS_NAMES[name]]
    raise ModelError(f"{source}: architectures {classes!r} (and no model_type) is not supported "
                     f"(supported: {', '.join(sorted(CLASS_NAMES))})")


def parse_config(arch: Architecture, config: Mapping, source: str):
    try:
        return arch.parse_config(config, source)
    except bert_graph.WeightError as e:
        raise ModelError(str(e)) from e


def build_graph(arch: Architecture, weights: Mapping[str, np.ndarray], cfg, source: str):
    try:
        return arch.build_graph(weights, cfg, source=source)
    except bert_graph.WeightError as e:
        raise ModelError(str(e)) from e
