"""scripts/gpu_check.sh, the prepared check for a machine with an NVIDIA GPU,
rehearsed on this CPU (GPU_CHECK_DEVICE=cpu: every step on ONNX Runtime's CPU
provider instead of CUDA), so that the script cannot rot between the rare
sessions that are lent a GPU: each of its steps must still run and pass."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

from helpers import BINARY, MODEL_DIR, ROOT

STEPS = ["info-cpu", "auto-picks-cpu", "gpu-graphs", "pooled-on-engine-fp32", "pooled-on-engine-fp16",
         "d2h-saving", "parity-cpu-fp32", "parity-cpu-fp16", "parity-cpu-fp32-hidden", "bench",
         "http-latency-wait-1", "http-latency-wait0", "device-failure-503", "server-alive-after-failure",
         "hidden-gpu-start-up-line"]


def two_free_ports() -> int:
    """A port p with p + 1 free too (the script serves on both)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue
    raise RuntimeError("no two adjacent free ports")


def test_the_gpu_check_rehearses_every_step_on_the_cpu(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, GPU_CHECK_DEVICE="cpu", OUT=str(out), AKIDB_BINARY=str(BINARY),
               AKIDB_MODEL_DIR=str(MODEL_DIR), PYTHON=sys.executable,
               GPU_CHECK_MODEL_DIR=str(tmp_path / "minilm-gpu"), GPU_CHECK_PORT=str(two_free_ports()),
               GPU_CHECK_HTTP_SECONDS="1", GPU_CHECK_HTTP_REQUESTS="20",
               GPU_CHECK_BENCH_SENTENCES="32", GPU_CHECK_BENCH_ITERATIONS="3")
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], env=env, capture_output=True,
                          timeout=600)
    summary = (out / "summary.txt").read_text()
    results = [line.split()[1:3] for line in summary.splitlines() if line.startswith("[gpu-check] ")]
    assert ["REHEARSAL", "on"] in results, summary
    assert [r for r in results if r[0] in ("PASS", "FAIL")] == [["PASS", s] for s in STEPS], summary
    assert proc.returncode == 0, summary
    assert summary.rstrip().endswith(f"done: all passed; results in {out}")
    # What the GPU run is for lands where the closing note reads it.
    assert (out / "devices.json").is_file() and (out / "http-wait0.json").is_file()
    assert len((out / "parity.jsonl").read_text().splitlines()) == 3
