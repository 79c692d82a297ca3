#!/usr/bin/env bash
# Every benchmark behind BENCHMARKS.md, in one run on a quiet machine
# (about 15 minutes on 2 cores). Results land in bench/out/.
#   make bench-all    (or: bench/run_all.sh [BUILD_DIR])
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/akidb-embed
OUT=bench/out
PY=.venv/bin/python
export ORT_DISABLE_TELEMETRY=1
mkdir -p "$OUT"

echo "== machine"
lscpu | grep -E "Model name|^CPU\(s\)|Flags" | sed 's/Flags:.*/(flags: see lscpu)/' | tee "$OUT/machine.txt"
grep -o -E 'avx512f|avx512_vnni|avx512_bf16|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ' | tee -a "$OUT/machine.txt"
echo

echo "== akidb-embed bench, each variant (latency, throughput, efficiency, accuracy)"
for variant in fp32 opt int8; do
  "$BIN" bench --variant "$variant" --json "$OUT/bench-$variant.json"
done
echo "== operators ONNX Runtime ran (profiling slows runs: a separate, short run)"
for variant in fp32 opt int8; do
  "$BIN" bench --variant "$variant" --profile --quick --stages latency --json "$OUT/ops-$variant.json"
done

echo "== optimizations one at a time (opt variant unless named)"
"$BIN" bench --variant fp32 --padding 512 --stages latency throughput --batch-sizes 1 32 --sentences 256 --iterations 50 --json "$OUT/bench-fp32-pad512.json"
"$BIN" bench --variant fp32 --padding 256 --stages latency throughput --batch-sizes 1 32 --sentences 256 --iterations 50 --json "$OUT/bench-fp32-pad256.json"
"$BIN" bench --variant fp32 --optimization disabled --stages latency throughput --batch-sizes 1 32 --sentences 256 --iterations 100 --json "$OUT/bench-fp32-noopt.json"
"$BIN" bench --no-sort --stages throughput --batch-sizes 32 128 256 --sentences 1024 --json "$OUT/bench-opt-nosort.json"
"$BIN" bench --stages throughput --batch-sizes 32 128 256 --sentences 1024 --json "$OUT/bench-opt-sort.json"
"$BIN" bench --no-spinning --stages latency throughput --batch-sizes 1 32 --sentences 256 --iterations 100 --json "$OUT/bench-opt-nospin.json"
"$BIN" bench --threads 1 --stages latency throughput --batch-sizes 1 32 --sentences 256 --iterations 100 --json "$OUT/bench-opt-1thread.json"

echo "== peers side by side (same sentences, same threads, same ONNX file)"
$PY bench/compare.py --binary "$BIN" --variant fp32 --sentences 512 --iterations 100 --out "$OUT" | tee "$OUT/compare-fp32.txt"

echo "== HTTP server under load (wrk)"
$PY bench/load.py --binary "$BIN" --concurrency 1 8 64 --duration 10 --json "$OUT/load.json" | tee "$OUT/load.txt"
$PY bench/load.py --binary "$BIN" --concurrency 1 8 64 --duration 10 --server-args=--no-spinning --json "$OUT/load-nospin.json" | tee "$OUT/load-nospin.txt"

echo "== Python bridge overhead over the in-process provider"
"$BUILD/akidb-bridge-bench" --threads 1 --iterations 300 --batch 1 32 | tee "$OUT/bridge.txt"

echo "== tokenizer vs Hugging Face tokenizers, one thread"
$PY bench/tokenizer_compare.py --binary "$BUILD/akidb-tokenize" --tokenizer models/all-MiniLM-L6-v2/tokenizer.json | tee "$OUT/tokenizer.json"
