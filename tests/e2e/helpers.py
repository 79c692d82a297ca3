"""Shared helpers for the end-to-end tests: paths and running the CLI."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("AKIDB_BINARY", ROOT / "build" / "akidb-embed"))
MODEL_DIR = Path(os.environ.get("AKIDB_MODEL_DIR", ROOT / "models" / "all-MiniLM-L6-v2"))
STSB_DIR = Path(os.environ.get("AKIDB_STSB_DIR", ROOT / "data" / "stsb"))
TEST_DATA = ROOT / "tests" / "data"


def run_cli(*args: str, stdin: str | bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Runs akidb-embed with args; returns the completed process (bytes output)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run([str(BINARY), *args], input=data, capture_output=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"akidb-embed {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()}")
    return proc


def embed_texts(texts: list[str], *extra: str) -> list[list[float]]:
    """Embeds texts with `akidb-embed embed` (JSONL in, JSONL out)."""
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    out = run_cli("embed", "--model", str(MODEL_DIR), "--format", "jsonl", *extra, stdin=lines)
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [r["index"] for r in rows] == list(range(len(texts)))
    return [r["embedding"] for r in rows]
