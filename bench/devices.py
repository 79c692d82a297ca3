"""Devices side by side through the product's own benchmark: `akidb-embed
bench` (latency of a short/medium/long input at batch 1, STS-B throughput at
several batch sizes) once per configuration and round, the configurations
taking turns so that a noisy shared machine hurts them alike; the best round
of each is kept. Prints a table and writes JSON.

    .venv/bin/python bench/devices.py                       # CPU: onnx opt/fp32, openvino, native
    .venv/bin/python bench/devices.py --configs cuda-fp32 cuda-fp16 onnx-opt --batch-sizes 1 32 256 1024
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> akidb-embed flags
CONFIGS = {
    "onnx-opt": ["--device", "cpu", "--variant", "opt"],
    "onnx-fp32": ["--engine", "onnx", "--device", "cpu", "--variant", "fp32"],
    # gpu_graphs.py's directory: the fp32 graph without its pooled output (host pooling)
    "onnx-fp32-hidden": ["--engine", "onnx", "--device", "cpu", "--variant", "fp32-hidden"],
    "onnx-fp16": ["--engine", "onnx", "--device", "cpu", "--variant", "fp16"],  # gpu_graphs.py's directory
    "openvino-fp32": ["--device", "openvino", "--variant", "fp32"],
    "native-fp32": ["--engine", "native", "--variant", "fp32"],
    "native-int8": ["--engine", "native", "--variant", "int8"],
    "onnx-int8": ["--device", "cpu", "--variant", "int8"],
    "cuda-opt": ["--device", "cuda", "--variant", "opt"],
    "cuda-fp32": ["--device", "cuda", "--variant", "fp32"],
    # gpu_graphs.py's directory: the fp32 graph without its pooled output (host pooling)
    "cuda-fp32-hidden": ["--device", "cuda", "--variant", "fp32-hidden"],
    "cuda-fp16": ["--device", "cuda", "--variant", "fp16"],
}


def run(binary: str, model: Path, flags: list[str], a) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [binary, "bench", "--model", str(model), *flags, "--stages", "latency", "throughput",
               "--iterations", str(a.iterations), "--sentences", str(a.sentences),
               "--batch-sizes", *map(str, a.batch_sizes), "--sts", str(a.sts), "--json", out.name]
        if a.threads:
            cmd += ["--threads", str(a.threads)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return json.loads(Path(out.name).read_text())


def best(runs: list[dict]) -> dict:
    lat = {}
    for r in runs:
        for l in r["latency"]:
            if l["input"] not in lat or l["p50_ms"] < lat[l["input"]]["p50_ms"]:
                lat[l["input"]] = l
    thr = {}
    for r in runs:
        for t in r["throughput"]:
            if t["batch_size"] not in thr or t["sentences_per_s"] > thr[t["batch_size"]]["sentences_per_s"]:
                thr[t["batch_size"]] = t
    cfg = runs[0]["config"]
    return {"device": cfg.get("device"), "execution_provider": cfg.get("execution_provider"),
            "latency": lat, "throughput": thr}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default=str(ROOT / "build" / "akidb-embed"))
    p.add_argument("--model", type=Path, default=ROOT / "models" / "all-MiniLM-L6-v2")
    p.add_argument("--configs", nargs="+", default=["onnx-opt", "onnx-fp32", "openvino-fp32", "native-fp32"],
                   choices=sorted(CONFIGS))
    # Passed on, so that a binary outside the source tree (scripts/gpu_bundle.sh) finds it too.
    p.add_argument("--sts", type=Path, default=ROOT / "data" / "stsb" / "stsb-en-test.csv")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--sentences", type=int, default=512)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32, 256])
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "devices.json")
    a = p.parse_args()
    runs: dict[str, list[dict]] = {c: [] for c in a.configs}
    for _ in range(a.rounds):
        for c in a.configs:
            runs[c].append(run(a.binary, a.model, CONFIGS[c], a))
    results = {c: best(r) for c, r in runs.items()}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2) + "\n")
    base = a.configs[0]
    print(f"best of {a.rounds} rounds; ratios against {base} in the same run")
    print(f"{'config':14} {'provider':22} " + " ".join(f"{'p50 ' + i:>12}" for i in ("short", "medium", "long"))
          + " " + " ".join(f"{'b' + str(b) + ' sent/s':>14}" for b in a.batch_sizes))
    for c, r in results.items():
        cells = [f"{r['latency'][i]['p50_ms']:8.2f} ms" for i in ("short", "medium", "long")]
        for b in a.batch_sizes:
            s = r["throughput"][b]["sentences_per_s"]
            ratio = s / results[base]["throughput"][b]["sentences_per_s"]
            cells.append(f"{s:7.0f} ({ratio:4.2f}x)")
        print(f"{c:14} {r['execution_provider'] or '':22} " + " ".join(f"{x:>12}" for x in cells[:3]) + " "
              + " ".join(f"{x:>14}" for x in cells[3:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
