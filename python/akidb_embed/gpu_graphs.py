"""The GPU variant of a prepared model: `model.fp16.onnx`, ONNX Runtime's
transformer optimizer fused for the GPU (use_gpu=True) and converted to
float16 with fp32 inputs and output (keep_io_types), the way ONNX Runtime
documents fp16 BERT inference on CUDA.

Both GPU graphs (`model.pooled.onnx`, the fp32 graph, and `model.fp16.onnx`)
also get a second output, `sentence_embedding` [batch, dim]: the model's
pooling (mean, cls, max or mean_sqrt_len) computed in the graph from the
hidden states and attention_mask, in fp32 (the fp16 graph's hidden-state
output is already fp32). An engine that binds it copies [batch, dim] floats
back from the device instead of [batch, seq, dim]; L2 normalization stays
on the host (a request may ask for unnormalized vectors). A model whose
pooling skips the prompt (include_prompt false) gets no pooled output: the
graph does not know the prompt's length.

The source model directory is not modified: the result is a new directory
holding links to the source's files, the fp16 graph and a manifest with an
"fp16" variant, e.g.

    python -m akidb_embed.gpu_graphs --model models/all-MiniLM-L6-v2 --out build/models/minilm-gpu
    build/akidb-embed embed --model build/models/minilm-gpu --device cuda --variant fp16
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


POOLED_OUTPUT = "sentence_embedding"


def _opset(model) -> int:
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def add_pooled_output(model, hidden: str, pooling: str, name: str = POOLED_OUTPUT) -> None:
    """Appends `name` = pooling(hidden, attention_mask) [batch, dim] to the graph
    (an onnx.ModelProto, opset >= 13), in fp32 as sentence-transformers pools:
    masked sum / max(mask count, 1e-9) for mean, / sqrt(count) for
    mean_sqrt_len, row 0 for cls, the max over unmasked rows (padding set to
    -1e9) for max."""
    from onnx import TensorProto, helper

    opset = _opset(model)
    if opset < 13:
        raise ValueError(f"opset {opset}: pooling in the graph needs opset >= 13")
    g = model.graph
    out = next((o for o in g.output if o.name == hidden), None)
    if out is None:
        raise ValueError(f"the graph has no output {hidden!r}")
    if "attention_mask" not in [i.name for i in g.input]:
        raise ValueError("the graph has no attention_mask input to pool with")
    dim = out.type.tensor_type.shape.dim[-1]
    p = "akidb_pool_"
    consts = [helper.make_tensor(p + "axis1", TensorProto.INT64, [1], [1]),
              helper.make_tensor(p + "axis2", TensorProto.INT64, [1], [2]),
              helper.make_tensor(p + "eps", TensorProto.FLOAT, [], [1e-9]),
              helper.make_tensor(p + "neg", TensorProto.FLOAT, [], [-1e9]),
              helper.make_tensor(p + "zero", TensorProto.INT64, [], [0])]
    n = helper.make_node
    nodes = [n("Cast", ["attention_mask"], [p + "maskf"], to=TensorProto.FLOAT, name=p + "cast"),
             n("Unsqueeze", [p + "maskf", p + "axis2"], [p + "mask3"], name=p + "unsqueeze")]
    if pooling in ("mean", "mean_sqrt_len"):
        nodes += [n("Mul", [hidden, p + "mask3"], [p + "masked"], name=p + "mul"),
                  n("ReduceSum", [p + "masked", p + "axis1"], [p + "sum"], keepdims=0, name=p + "sum"),
                  n("ReduceSum", [p + "mask3", p + "axis1"], [p + "count"], keepdims=0, name=p + "count"),
                  n("Max", [p + "count", p + "eps"], [p + "clamped"], name=p + "clamp")]
        if pooling == "mean":
            nodes.append(n("Div", [p + "sum", p + "clamped"], [name], name=p + "div"))
        else:
            nodes += [n("Sqrt", [p + "clamped"], [p + "sqrt"], name=p + "sqrt"),
                      n("Div", [p + "sum", p + "sqrt"], [name], name=p + "div")]
    elif pooling == "cls":
        nodes = [n("Gather", [hidden, p + "zero"], [name], axis=1, name=p + "cls")]
    elif pooling == "max":
        nodes += [n("Cast", [p + "mask3"], [p + "keep"], to=TensorProto.BOOL, name=p + "bool"),
                  n("Where", [p + "keep", hidden, p + "neg"], [p + "masked"], name=p + "where")]
        if opset >= 18:
            nodes.append(n("ReduceMax", [p + "masked", p + "axis1"], [name], keepdims=0, name=p + "max"))
        else:
            nodes.append(n("ReduceMax", [p + "masked"], [name], axes=[1], keepdims=0, name=p + "max"))
    else:
        raise ValueError(f"pooling {pooling!r}: not done in the graph")
    used = {i for node in nodes for i in node.input}
    g.initializer.extend(c for c in consts if c.name in used)
    g.node.extend(nodes)
    batch = out.type.tensor_type.shape.dim[0]
    shape = [batch.dim_param or batch.dim_value or "batch", dim.dim_value or dim.dim_param or None]
    g.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))


def pooled_graph(fp32_path: Path, out_path: Path, manifest: dict) -> None:
    """The fp32 graph with the pooled output (`model.pooled.onnx`)."""
    import onnx

    model = onnx.load(str(fp32_path))
    add_pooled_output(model, manifest["output"], manifest["pooling"])
    onnx.checker.check_model(model)  # (the fp16 graph's contrib ops are checked by loading it)
    onnx.save(model, str(out_path))


def fp16_graph(fp32_path: Path, out_path: Path, manifest: dict, pooled: bool = True) -> dict[str, int]:
    from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    arch = manifest["architecture"]
    opts = FusionOptions("bert")
    opts.attention_mask_format = AttentionMaskFormat.AttentionMask  # any padding layout
    model = optimize_model(str(fp32_path), model_type="bert", num_heads=arch["num_heads"],
                           hidden_size=arch["hidden_size"], optimization_options=opts, opt_level=0,
                           use_gpu=True)
    # LayerNorm-style reductions and the output stay fp32 where the optimizer
    # keeps them; inputs (int64 ids) and the hidden-state output stay as they are.
    model.convert_float_to_float16(keep_io_types=True)
    if pooled:  # after the conversion: the pooling stays fp32
        add_pooled_output(model.model, manifest["output"], manifest["pooling"])
    model.save_model_to_file(str(out_path))
    return {k: v for k, v in model.get_fused_operator_statistics().items() if v}


def pools_in_graph(manifest: dict) -> str | None:
    """Why the graphs get no pooled output, or None when they do."""
    if not manifest.get("include_prompt", True):
        return "include_prompt is false: the pooling skips the prompt, whose length the graph does not know"
    if "attention_mask" not in manifest.get("inputs", []):
        return "the graph takes no attention_mask"
    return None


def make_gpu_model_dir(model: Path, out: Path, fp16: bool = True) -> Path:
    manifest = json.loads((model / "akidb.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    written = ("akidb.json", "model.fp16.onnx", "model.pooled.onnx")
    for f in model.iterdir():
        target = out / f.name
        if f.name in written or f.name.startswith("."):
            continue
        if not target.exists():
            os.symlink(f.resolve(), target)
    fp32 = model / manifest["variants"]["fp32"]
    why_not = pools_in_graph(manifest)
    details = manifest.setdefault("variant_details", {})
    pooled = {"pooled_output": POOLED_OUTPUT, "pooling": manifest.get("pooling", "mean")}
    if why_not is None:
        pooled_graph(fp32, out / "model.pooled.onnx", manifest)
        manifest["variants"]["fp32"] = "model.pooled.onnx"
        # The source graph, hidden states only (the host pools): to measure
        # what the pooled output saves (scripts/gpu_check.sh).
        manifest["variants"]["fp32-hidden"] = fp32.name
        details.setdefault("fp32", {}).update({"from": fp32.name, **pooled})
        path = out / "model.pooled.onnx"
    else:
        print(f"no pooled output: {why_not}", file=sys.stderr)
        path = out / "akidb.json"
    if fp16:
        stats = fp16_graph(fp32, out / "model.fp16.onnx", manifest, pooled=why_not is None)
        manifest["variants"]["fp16"] = "model.fp16.onnx"
        details["fp16"] = {
            "from": "fp32", "optimizer": "onnxruntime.transformers use_gpu=True, float16 keep_io_types",
            "fused_ops": stats, **(pooled if why_not is None else {})}
        path = out / "model.fp16.onnx"
    for name in written[1:]:
        manifest.get("files", {}).pop(name, None)
    tmp = out / "akidb.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(out / "akidb.json")
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="a prepared model directory")
    p.add_argument("--out", type=Path, required=True, help="the new directory (links + fp16 graph)")
    p.add_argument("--no-fp16", action="store_true", help="only the pooled fp32 graph")
    a = p.parse_args(argv)
    path = make_gpu_model_dir(a.model, a.out, fp16=not a.no_fp16)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
