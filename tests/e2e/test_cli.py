"""The command-line tool as a user runs it: embed, info, tokenize, errors."""
from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

from helpers import BINARY, MODEL_DIR, TEST_DATA, embed_texts, run_cli


def golden():
    texts = [json.loads(line)["text"] for line in open(TEST_DATA / "golden" / "texts.jsonl", encoding="utf-8")]
    vectors = np.fromfile(TEST_DATA / "golden" / "vectors.f32", dtype="<f4").reshape(len(texts), -1)
    return texts, vectors


def test_binary_exists():
    assert BINARY.exists(), f"build the CLI first: {BINARY}"


@pytest.mark.parametrize("command", ["embed", "info", "tokenize", "bench"])
def test_every_command_has_help(command):
    out = run_cli(command, "--help").stdout.decode()
    assert "--model" in out


def test_embed_matches_golden_vectors():
    texts, expected = golden()
    got = np.array(embed_texts(texts, "--batch-size", "64"), dtype=np.float32)
    cosines = np.sum(got * expected, axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.min() >= 0.9999, texts[int(cosines.argmin())]
    assert np.abs(got - expected).max() <= 1e-4


def test_embed_reads_plain_text_lines():
    out = run_cli("embed", "--model", str(MODEL_DIR), stdin="first line\nsecond line\n")
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert len(rows) == 2 and len(rows[0]["embedding"]) == 384
    assert rows[0]["tokens"] == 4  # [CLS] first line [SEP]


def test_info_reports_the_model():
    info = json.loads(run_cli("info", "--model", str(MODEL_DIR)).stdout)
    assert info["model"] == "all-MiniLM-L6-v2"
    assert info["dimension"] == 384 and info["max_tokens"] == 256
    assert info["backend"] == "native" and info["onnxruntime"].startswith("1.29")


def test_tokenize_prints_ids():
    out = run_cli("tokenize", "--model", str(MODEL_DIR), "hello world").stdout
    assert json.loads(out)["ids"] == [101, 7592, 2088, 102]


def test_missing_model_is_a_one_line_error():
    proc = run_cli("embed", "--model", "/nonexistent", stdin="x\n", check=False)
    assert proc.returncode == 1
    lines = proc.stderr.decode().strip().splitlines()
    assert lines == ["akidb-embed: model_error error: /nonexistent/akidb.json: cannot open (missing model directory or manifest)"]


def test_invalid_utf8_names_the_line():
    proc = run_cli("embed", "--model", str(MODEL_DIR), "--format", "text", stdin=b"good\nbad \xff here\n", check=False)
    assert proc.returncode == 1
    assert "line 2: invalid UTF-8 at byte 4" in proc.stderr.decode()


def test_malformed_jsonl_names_the_line():
    proc = run_cli("embed", "--model", str(MODEL_DIR), "--format", "jsonl", stdin='{"text": "ok"}\n{"txt": 1}\n', check=False)
    assert proc.returncode == 1
    assert 'line 2: expected an object with a string field "text"' in proc.stderr.decode()


def test_empty_input_is_an_error():
    proc = run_cli("embed", "--model", str(MODEL_DIR), stdin="", check=False)
    assert proc.returncode == 1
    assert "no input lines to embed" in proc.stderr.decode()


def test_unknown_option_exits_nonzero():
    proc = run_cli("embed", "--no-such-flag", check=False)
    assert proc.returncode != 0


def test_bench_quick_writes_well_formed_json(tmp_path):
    out = tmp_path / "bench.json"
    run_cli("bench", "--model", str(MODEL_DIR), "--quick", "--batch-sizes", "1", "4",
            "--golden", str(TEST_DATA / "golden"), "--json", str(out))
    result = json.loads(out.read_text())
    assert [l["input"] for l in result["latency"]] == ["short", "medium", "long"]
    assert result["latency"][2]["tokens"] == 256
    assert [t["batch_size"] for t in result["throughput"]] == [1, 4]
    assert all(t["sentences_per_s"] > 0 for t in result["throughput"])
    assert result["peak_gflops"] > 0
    assert result["accuracy"]["golden"]["min_cosine"] >= 0.9999


def _bench_in(workdir, *args, env=None):
    """Runs `akidb-embed bench --quick` with `workdir` as the current directory."""
    workdir.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(BINARY), "bench", "--model", str(MODEL_DIR.resolve()), "--quick",
                           "--batch-sizes", "1", "--json", "-", *args],
                          cwd=workdir, capture_output=True, timeout=600, env={**os.environ, **(env or {})})


def test_bench_finds_its_data_from_any_directory(tmp_path):
    # The build-tree binary falls back to the source tree's data/stsb and
    # tests/data/golden, never to paths relative to the current directory.
    proc = _bench_in(tmp_path / "elsewhere", "--stages", "throughput", "accuracy")
    assert proc.returncode == 0, proc.stderr.decode()
    result = json.loads(proc.stdout)
    assert result["throughput"][0]["sentences_per_s"] > 0
    assert result["accuracy"]["golden"]["min_cosine"] >= 0.9999


def test_bench_missing_sts_file_is_a_clear_error(tmp_path):
    proc = _bench_in(tmp_path, "--stages", "throughput", "--sts", str(tmp_path / "nope.csv"))
    assert proc.returncode != 0
    assert "nope.csv" in proc.stderr.decode()


def test_bench_profile_goes_to_a_temporary_directory(tmp_path):
    work, tmp = tmp_path / "work", tmp_path / "tmp"
    tmp.mkdir()
    proc = _bench_in(work, "--engine", "onnx", "--stages", "latency", "--profile", env={"TMPDIR": str(tmp)})
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["profile"]["kernel_runs_by_op"], "no operators profiled"
    assert list(work.iterdir()) == [], "bench --profile wrote into the current directory"
    assert list(tmp.iterdir()) == [], "the temporary profile directory was left behind"


def test_bench_profile_dir_keeps_the_profile(tmp_path):
    work, profiles = tmp_path / "work", tmp_path / "profiles" / "run1"
    proc = _bench_in(work, "--engine", "onnx", "--stages", "latency", "--profile", "--profile-dir",
                     str(profiles))
    assert proc.returncode == 0, proc.stderr.decode()
    profile = json.loads(proc.stdout)["profile"]
    kept = list(profiles.glob("akidb-bench-profile*.json"))
    assert [str(p) for p in kept] == [profile["file"]]
    assert json.loads(kept[0].read_text()), "empty profile"
    assert list(work.iterdir()) == []
