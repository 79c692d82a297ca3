#!/usr/bin/env bash
# The CUDA check (docs/devices.md, "Checking on a GPU"): run from the
# repository root on a machine with an NVIDIA GPU. Self-contained, under
# 10 minutes; every step has its own time limit and the results land in
# $OUT (default build/gpu-check): summary.txt, parity.jsonl, devices.json,
# http-wait-1.json (the default batch wait), http-wait0.json (none).
#
#   scripts/gpu_check.sh                       # online machine: make setup-cuda if needed
#   AKIDB_BINARY=... AKIDB_CUDA_DIR=... scripts/gpu_check.sh   # offline: scripts/gpu_bundle.sh's unpacked bundle
#
# Steps: nvidia-smi; the CUDA runtime (make setup-cuda when missing and
# online); `info` on cuda and auto; the GPU graphs (fp16, and the pooled
# output of both: `info` must say pooled_on engine); golden parity on CUDA
# fp32 and fp16 with the pooled output, and fp32-hidden (the same graph,
# pooled on the host) (cos >= 0.9999, batch invariance); the device-to-host
# floats the pooled output saves on the golden texts; bench at batch 1, 32,
# 256, 1024 on CUDA fp32/fp16/fp32-hidden against ONNX Runtime on this
# machine's CPU in the same run (the crossover batch size is where the
# ratio passes 1; cuda-fp32 vs cuda-fp32-hidden is what pooling on the
# device buys); through the server: batch-1 P50/P95 and concurrency 64 with
# the GPU's default batch wait (2 ms) and with none; an induced device
# failure -> 503 and a 503 /health; a hidden GPU -> the start-up line.
#
# Rehearsal on a machine without a GPU (checks this script and the bundle,
# not CUDA): GPU_CHECK_DEVICE=cpu runs every step on ONNX Runtime's CPU
# provider instead (no nvidia-smi or set-up, fewer sentences in the bench).
# tests/e2e/test_gpu_check.py runs it so in `make test` (30 s), shortened
# with GPU_CHECK_HTTP_SECONDS, GPU_CHECK_HTTP_REQUESTS,
# GPU_CHECK_BENCH_SENTENCES and GPU_CHECK_BENCH_ITERATIONS, and with its own
# GPU_CHECK_MODEL_DIR and GPU_CHECK_PORT (the first of two ports it serves on).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-build/gpu-check}
BIN=${AKIDB_BINARY:-build/akidb-embed}
MODEL=${AKIDB_MODEL_DIR:-models/all-MiniLM-L6-v2}
PY=${PYTHON:-python3}
export AKIDB_CUDA_DIR=${AKIDB_CUDA_DIR:-$PWD/third_party/onnxruntime-cuda}
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
GPU_MODEL=${GPU_CHECK_MODEL_DIR:-build/models/minilm-gpu}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
PORT=${GPU_CHECK_PORT:-18080}
HTTP_SECONDS=${GPU_CHECK_HTTP_SECONDS:-10}
HTTP_REQUESTS=${GPU_CHECK_HTTP_REQUESTS:-500}  # batch-1 requests timed one after another
BENCH_ITERATIONS=${GPU_CHECK_BENCH_ITERATIONS:-100}
ON=(--device "$DEVICE" --engine onnx)  # the GPU graphs, on ONNX Runtime (--engine auto could pick native on a CPU)
if [ "$DEVICE" = cuda ]; then
  BENCH_CONFIGS=(onnx-fp32 cuda-fp32 cuda-fp16 cuda-fp32-hidden) BENCH_SENTENCES=4096
else
  BENCH_CONFIGS=(onnx-fp32 onnx-fp16 onnx-fp32-hidden) BENCH_SENTENCES=256
fi
BENCH_SENTENCES=${GPU_CHECK_BENCH_SENTENCES:-$BENCH_SENTENCES}
mkdir -p "$OUT" "$(dirname "$GPU_MODEL")"
FAILED=0
log() { echo "[gpu-check] $*" | tee -a "$OUT/summary.txt"; }
check() {  # check NAME SECONDS CMD...: runs CMD under a time limit, records pass/fail
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  if timeout "$limit" "$@" >>"$OUT/summary.txt" 2>&1; then
    log "PASS $name ($((SECONDS - start)) s)"
  else
    log "FAIL $name (exit $?, $((SECONDS - start)) s)"
    FAILED=1
  fi
}
: >"$OUT/summary.txt"

if [ "$DEVICE" = cuda ]; then
  check nvidia-smi 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  if ! [ -f "$AKIDB_CUDA_DIR/onnxruntime/capi/libonnxruntime.so.1.29.0" ]; then
    check setup-cuda 300 make setup-cuda
  fi
else
  log "REHEARSAL on $DEVICE: nothing below runs on a GPU"
fi
check "info-$DEVICE" 60 "$BIN" info --model "$MODEL" --variant fp32 "${ON[@]}"
check "auto-picks-$DEVICE" 60 bash -c "'$BIN' info --model '$MODEL' --variant fp32 --device auto 2>&1 | grep -q 'device $DEVICE: auto chose $DEVICE'"
check gpu-graphs 120 "$PY" -m akidb_embed.gpu_graphs --model "$MODEL" --out "$GPU_MODEL"
for variant in fp32 fp16; do
  check "pooled-on-engine-$variant" 60 bash -o pipefail -c \
    "'$BIN' info --model '$GPU_MODEL' ${ON[*]} --variant $variant | tee -a '$OUT/summary.txt' | grep -q '\"pooled_on\": *\"engine\"'"
done
# Floats copied back per batch of the golden texts (in file order): the hidden
# states b x longest x dim, against the pooled output's b x dim.
# (the binary's tokenizer: the machine may lack Python's tokenizers)
check d2h-saving 60 "$PY" - "$BIN" "$MODEL" <<'PYEOF'
import json, subprocess, sys
binary, model = sys.argv[1], sys.argv[2]
texts = [json.loads(l)["text"] for l in open("tests/data/golden/texts.jsonl", encoding="utf-8")]
texts = [" ".join(t.split()) for t in texts]  # one line each for `tokenize`
out = subprocess.run([binary, "tokenize", "--model", model], input="\n".join(texts) + "\n",
                     capture_output=True, text=True, check=True).stdout
lengths = [min(json.loads(l)["n"], 256) for l in out.splitlines()]
for order, ls in (("file order", lengths), ("sorted by length", sorted(lengths))):
    for b in (1, 32, 256):
        chunks = [ls[i:i + b] for i in range(0, len(ls), b)]
        hidden = sum(len(c) * max(c) for c in chunks)
        print(f"d2h batch {b} ({order}): hidden-state rows {hidden}, pooled rows {len(ls)}, "
              f"{hidden / len(ls):.1f}x fewer floats with the pooled output")
PYEOF

for variant in fp32 fp16 fp32-hidden; do
  check "parity-$DEVICE-$variant" 120 bash -o pipefail -c \
    "'$PY' scripts/golden_parity.py --binary '$BIN' --device $DEVICE --variant $variant -- --engine onnx --model '$GPU_MODEL' | tee -a '$OUT/parity.jsonl'"
done

check bench 240 "$PY" bench/devices.py --binary "$BIN" --model "$GPU_MODEL" \
  --configs "${BENCH_CONFIGS[@]}" --rounds 1 --iterations "$BENCH_ITERATIONS" --sentences "$BENCH_SENTENCES" \
  --batch-sizes 1 32 256 1024 --out "$OUT/devices.json"

SERVER_PID=
serve() {  # serve PORT FLAGS...: starts the server (SERVER_PID), waits for /health 200
  local port=$1
  shift
  "$BIN" serve --model "$GPU_MODEL" --port "$port" "${ON[@]}" "$@" >>"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    "$PY" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# The batch wait: the GPU's default (2 ms), then none, same load.
for wait_ms in -1 0; do
  if serve "$PORT" --variant fp16 --max-batch-wait-ms "$wait_ms"; then
    check "http-latency-wait$wait_ms" 90 bash -o pipefail -c \
      "'$PY' scripts/http_latency.py --url http://127.0.0.1:$PORT --requests $HTTP_REQUESTS --concurrency 64 --seconds $HTTP_SECONDS | tee '$OUT/http-wait$wait_ms.json'"
  else
    log "FAIL server on $DEVICE (--max-batch-wait-ms $wait_ms) did not become healthy"
    FAILED=1
  fi
  kill "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
done

# A device failure at run time (the test hook fails the 3rd run; the start-up
# probe is the 1st): 200, then 503 with the device's message, /health 503.
if serve $((PORT + 1)) --variant fp32 --inject-device-failure 3; then
  check device-failure-503 30 "$PY" - "$((PORT + 1))" <<'PYEOF'
import json, sys, urllib.error, urllib.request as u
def post(text):
    req = u.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/embeddings", json.dumps({"input": text}).encode(),
                    {"Content-Type": "application/json"})
    try:
        return u.urlopen(req, timeout=30).status
    except urllib.error.HTTPError as e:
        return e.code
def health():
    try:
        return u.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code
got = (post("first"), post("second"), health())
print("statuses", got)
assert got == (200, 503, 503), got
PYEOF
  check server-alive-after-failure 5 kill -0 "$SERVER_PID"
else
  log "FAIL server with the injected failure did not start"
  FAILED=1
fi
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null

# No GPU visible: the start-up line, exit 1.
check hidden-gpu-start-up-line 60 bash -c \
  "CUDA_VISIBLE_DEVICES= '$BIN' info --model '$MODEL' --variant fp32 --device cuda 2>&1 | tee -a /dev/stderr | grep -q '^akidb-embed: unavailable error: device cuda cannot start: '"

log "done: $([ $FAILED = 0 ] && echo all passed || echo some FAILED); results in $OUT"
exit $FAILED
