"""The GPU variant of a prepared model: `model.fp16.onnx`, ONNX Runtime's
transformer optimizer fused for the GPU (use_gpu=True) and converted to
float16 with fp32 inputs and output (keep_io_types), the way ONNX Runtime
documents fp16 BERT inference on CUDA.

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


def fp16_graph(fp32_path: Path, out_path: Path, manifest: dict) -> dict[str, int]:
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
    model.save_model_to_file(str(out_path))
    return {k: v for k, v in model.get_fused_operator_statistics().items() if v}


def make_gpu_model_dir(model: Path, out: Path) -> Path:
    manifest = json.loads((model / "akidb.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    for f in model.iterdir():
        target = out / f.name
        if f.name in ("akidb.json", "model.fp16.onnx") or f.name.startswith("."):
            continue
        if not target.exists():
            os.symlink(f.resolve(), target)
    stats = fp16_graph(model / manifest["variants"]["fp32"], out / "model.fp16.onnx", manifest)
    manifest["variants"]["fp16"] = "model.fp16.onnx"
    manifest.setdefault("variant_details", {})["fp16"] = {
        "from": "fp32", "optimizer": "onnxruntime.transformers use_gpu=True, float16 keep_io_types",
        "fused_ops": stats}
    manifest.get("files", {}).pop("model.fp16.onnx", None)
    tmp = out / "akidb.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(out / "akidb.json")
    return out / "model.fp16.onnx"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, required=True, help="a prepared model directory")
    p.add_argument("--out", type=Path, required=True, help="the new directory (links + fp16 graph)")
    a = p.parse_args(argv)
    path = make_gpu_model_dir(a.model, a.out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
