#!/usr/bin/env python3
"""Single-threaded tokenizer speed: akidb-tokenize --bench vs Hugging Face tokenizers.

Both sides encode the same sentences with the same tokenizer.json, truncation at
--max-length and no padding, on one thread (RAYON_NUM_THREADS=1,
TOKENIZERS_PARALLELISM=false for the oracle). Prints a JSON summary with wall
and process-CPU time per sentence (the CPU figures hold up on a busy machine).

  .venv/bin/python bench/tokenizer_compare.py --binary build/akidb-tokenize \
      --tokenizer models/all-MiniLM-L6-v2/tokenizer.json
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import tokenizers  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_sentences(stsb_dir, pattern):
    texts = []
    for path in sorted(pathlib.Path(stsb_dir).glob(pattern)):
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                texts += row[:2]
    return texts


def time_hf(tok, texts, seconds, batch):
    n_sentences = n_tokens = 0
    cpu_start = time.process_time()
    start = time.perf_counter()
    while True:
        if batch:
            encs = tok.encode_batch(texts)
        else:
            encs = [tok.encode(t) for t in texts]
        n_sentences += len(texts)
        n_tokens += sum(len(e.ids) for e in encs)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    cpu = time.process_time() - cpu_start
    return {"sentences": n_sentences, "seconds": elapsed, "sentences_per_s": n_sentences / elapsed,
            "tokens_per_s": n_tokens / elapsed, "us_per_sentence": elapsed * 1e6 / n_sentences,
            "cpu_us_per_sentence": cpu * 1e6 / n_sentences}


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=str(ROOT / "build" / "akidb-tokenize"))
    ap.add_argument("--tokenizer", default=str(ROOT / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"))
    ap.add_argument("--stsb", default=str(ROOT / "data" / "stsb"))
    ap.add_argument("--files", default="stsb-en-*.csv", help="glob of STS-B CSVs to use")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()

    texts = load_sentences(args.stsb, args.files)
    assert texts, f"no sentences in {args.stsb}/{args.files}"
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
        corpus = f.name
    try:
        out = subprocess.run([args.binary, "--tokenizer", args.tokenizer, "--max-length",
                              str(args.max_length), "--bench", "--seconds", str(args.seconds), corpus],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(corpus)
    ours = json.loads(out)

    tok = tokenizers.Tokenizer.from_file(args.tokenizer)
    tok.no_padding()
    tok.enable_truncation(args.max_length)
    hf_batch = time_hf(tok, texts, args.seconds, batch=True)
    hf_single = time_hf(tok, texts, args.seconds, batch=False)

    result = {
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "tokenizers": tokenizers.__version__},
        "corpus": {"files": args.files, "sentences": len(texts), "max_length": args.max_length},
        "akidb_ids_only": ours["ids_only"],
        "akidb_with_offsets": ours["with_offsets"],
        "hf_encode_batch_1_thread": hf_batch,
        "hf_encode_loop": hf_single,
        "ratio_vs_hf_batch": {
            "ids_only": ours["ids_only"]["sentences_per_s"] / hf_batch["sentences_per_s"],
            "with_offsets": ours["with_offsets"]["sentences_per_s"] / hf_batch["sentences_per_s"],
        },
        # CPU time of each side's process: steadier than wall time on a loaded machine.
        "cpu_ratio_vs_hf_batch": {
            "ids_only": hf_batch["cpu_us_per_sentence"] / ours["ids_only"]["cpu_us_per_sentence"],
            "with_offsets": hf_batch["cpu_us_per_sentence"] / ours["with_offsets"]["cpu_us_per_sentence"],
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
