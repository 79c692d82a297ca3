"""python -m akidb_embed.ray_embed on a local Ray (ray.init(num_cpus=2)),
from the installed wheel: a corpus split into 8 files (JSONL and Parquet),
every vector equal to the CLI's for the same text, a job killed halfway and
rerun writing each row exactly once, wrong-count outputs redone, and the
output folder's lease fencing off the workers of a dead run.

AKIDB_SCALE_SENTENCES sets the corpus size: 800 in `make test` (the wheel
stage), 20,000 in `make test-scale`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq  # python/requirements-scale.txt (with ray)
import pytest

from akidb_embed.corpus_files import CorpusError, FileTask, OutputWriter, embed_file
from akidb_embed.job_lease import Lease, SupersededError
from conftest import BINARY, REPO


SENTENCES = int(os.environ.get("AKIDB_SCALE_SENTENCES", "800"))
FILES = 8
BATCH = 50  # --batch-size of both the job and the CLI; divides the files' row counts


def corpus_texts(n: int) -> list[str]:
    """n distinct sentences: the unique STS-B sentences, then variants of them
    (the corpus bench/scale_corpus.py writes for docs/scale-out.md)."""
    spec = importlib.util.spec_from_file_location("scale_corpus", REPO / "bench" / "scale_corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.texts(n)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """8 input files: even ones JSONL with ids, odd ones Parquet, file 7
    without ids (the job names its rows file:row); returns (folder, {id: text})."""
    folder = tmp_path_factory.mktemp("corpus")
    texts = corpus_texts(SENTENCES)
    per = -(-len(texts) // FILES)
    assert per % BATCH == 0, "whole groups of BATCH per file: one CLI run sees the job's groups"
    expected: dict[str, str] = {}
    for k in range(FILES):
        part = texts[k * per:(k + 1) * per]
        name = f"part-{k}.{'jsonl' if k % 2 == 0 else 'parquet'}"
        ids = [f"{name}:{i}" if k == 7 else f"doc-{k}-{i}" for i in range(len(part))]
        expected.update(zip(ids, part))
        if k % 2 == 0:
            (folder / name).write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in zip(ids, part)))
        else:
            columns = {"text": part} if k == 7 else {"id": ids, "text": part}
            pq.write_table(pa.table(columns), folder / name, row_group_size=100)
    return folder, expected


def job(corpus_dir: Path, out: Path, model_dir: Path, *extra: str, **kwargs) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "akidb_embed.ray_embed", str(corpus_dir), "--output", str(out),
           "--model", str(model_dir), "--num-cpus", "2", "--batch-size", str(BATCH), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, **kwargs)


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def outputs(out: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(out.glob("*.parquet"))}


def cli_vectors(model_dir: Path, texts: list[str], tmp: Path) -> np.ndarray:
    src = tmp / "cli-in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    run = subprocess.run([str(BINARY), "embed", "--model", str(model_dir), "-i", str(src), "--format",
                          "jsonl", "--batch-size", str(BATCH), "--threads", "2"],
                         check=True, capture_output=True, text=True)
    return np.array([json.loads(line)["embedding"] for line in run.stdout.splitlines()], dtype=np.float32)


def live_processes(session: int) -> list[str]:
    """The processes of a session that still run (zombies excluded), as "pid comm"."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        comm = text[text.index("(") + 1:text.rindex(")")]
        state, _ppid, _pgrp, sid = text[text.rindex(")") + 2:].split()[:4]
        if int(sid) == session and state != "Z":
            found.append(f"{stat.parent.name} {comm}")
    return found


def wait_until_gone(session: int, timeout: float = 300) -> None:
    """Waits for every process of the killed job's session: its Ray workers
    live in process groups of their own, so killpg does not reach them."""
    deadline = time.monotonic() + timeout
    while (alive := live_processes(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"the killed job's processes outlived it by {timeout:.0f} s: {alive}"


def test_killed_job_resumes_and_every_vector_equals_the_cli(corpus, model_dir, tmp_path):
    corpus_dir, expected = corpus
    out = tmp_path / "out"
    # One actor of one core: the files finish one by one, so the kill lands between them.
    proc = job(corpus_dir, out, model_dir, "--actors", "1", "--cores-per-actor", "1")
    deadline = time.monotonic() + 300
    while not outputs(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its local Ray's daemons (not its workers)
    proc.communicate()
    # Ray's workers can outlive the killed driver and finish the file they
    # hold. The rerun's first step is to take the folder's lease, after which
    # no earlier worker can commit a file; taking it here fixes the outputs
    # now, so the rerun must count exactly these as done.
    Lease.take(out)
    before = {name: p.stat() for name, p in outputs(out).items()}
    # The orphans themselves exit once they see their raylet gone; the rerun
    # starts after that, so none can leave a temporary file behind it.
    wait_until_gone(session=proc.pid)
    assert 1 <= len(before) < FILES, f"killed too late: {sorted(before)}"

    # An output with the wrong row count (here 5 rows of a finished file under
    # an unfinished file's name) is redone, and a leftover temporary file removed.
    wrong = next(f"part-{k}.parquet" for k in range(FILES - 1, -1, -1) if f"part-{k}.parquet" not in before)
    pq.write_table(pq.read_table(next(iter(outputs(out).values()))).slice(0, 5), out / wrong)
    (out / f"{wrong}.tmp-deadbeef").write_bytes(b"partial")
    log = finish(job(corpus_dir, out, model_dir, "--cores-per-actor", "1"))
    assert f"{len(before)} already done (row counts verified), {FILES - len(before)} to embed" in log, log
    after = outputs(out)
    assert len(after) == FILES and not list(out.glob("*.tmp-*"))
    for name, stat in before.items():  # finished files were not rewritten
        now = after[name].stat()
        assert (now.st_ino, now.st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns), name
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["skipped_files"] == len(before) and summary["embedded_files"] == FILES - len(before)
    assert sum(s["sentences"] for s in summary["actors"].values()) == summary["sentences"]

    # Each row exactly once, with its text's hash and the CLI's vector for that text.
    ids, hashes, vectors = [], [], []
    for name in sorted(after):
        table = pq.read_table(after[name])
        assert table.schema.field("vector").type.list_size == 384
        ids += table["id"].to_pylist()
        hashes += table["text_sha256"].to_pylist()
        vectors.append(table["vector"].combine_chunks().flatten().to_numpy().reshape(-1, 384))
    assert sorted(ids) == sorted(expected) and len(set(ids)) == len(ids) == SENTENCES
    assert hashes == [hashlib.sha256(expected[i].encode()).hexdigest() for i in ids]
    # The CLI embeds consecutive groups of BATCH, the job each file's: with
    # every file a whole number of groups, the same library calls, bit for bit.
    cli = cli_vectors(model_dir, [expected[i] for i in ids], tmp_path)
    np.testing.assert_array_equal(np.concatenate(vectors), cli)


def small_task(corpus_dir: Path, out: Path, rows: int = 20) -> FileTask:
    source = corpus_dir / "part-0.jsonl"
    return FileTask("part-0.jsonl", str(source), str(out / "part-0.parquet"), rows)


def first_rows(corpus_dir: Path, tmp_path: Path, rows: int = 20) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    lines = (corpus_dir / "part-0.jsonl").read_text().splitlines()[:rows]
    (folder / "part-0.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_a_run_whose_lease_was_taken_commits_nothing(corpus, embedder, tmp_path):
    """What a worker of a killed driver meets once a rerun has started: its
    file is refused at the commit (here the lease changes between the last
    write and the commit) or at its next write, leaving neither the output
    nor its temporary file; the current run's commit goes through."""
    out = tmp_path / "out"
    task = small_task(first_rows(corpus[0], tmp_path), out)
    dead_run = Lease.take(out)
    writer = OutputWriter(task, 384, {}, dead_run)
    writer.write([f"r{i}" for i in range(20)], ["x"] * 20, np.zeros((20, 384), np.float32))
    rerun = Lease.take(out)
    with pytest.raises(SupersededError, match=f"a newer run of this job took the output folder "
                                              f"\\(its lease is no longer {dead_run.token[:8]}\\)"):
        writer.commit()
    assert sorted(p.name for p in out.iterdir()) == ["_lease", "_lease.lock"]

    with pytest.raises(SupersededError):  # refused at the first write, before any embedding is kept
        embed_file(embedder, task, "text", "id", BATCH, {}, lease=dead_run)
    assert sorted(p.name for p in out.iterdir()) == ["_lease", "_lease.lock"]

    assert embed_file(embedder, task, "text", "id", BATCH, {}, lease=rerun) == 20
    assert pq.ParquetFile(out / "part-0.parquet").metadata.num_rows == 20
    assert sorted(p.name for p in out.iterdir()) == ["_lease", "_lease.lock", "part-0.parquet"]


def test_a_wrong_row_count_is_not_committed(corpus, embedder, tmp_path):
    out = tmp_path / "out"
    task = small_task(first_rows(corpus[0], tmp_path), out, rows=21)  # the file has 20
    with pytest.raises(CorpusError, match=r"part-0.parquet: wrote 20 rows, the input has 21"):
        embed_file(embedder, task, "text", "id", BATCH, {}, lease=Lease.take(out))
    assert sorted(p.name for p in out.iterdir()) == ["_lease", "_lease.lock"]


def test_a_bad_file_is_reported_and_the_others_finish(corpus, model_dir, tmp_path):
    corpus_dir, _ = corpus
    small = tmp_path / "in"
    small.mkdir()
    lines = (corpus_dir / "part-0.jsonl").read_text().splitlines()[:40]
    (small / "a.jsonl").write_text("\n".join(lines) + "\n")
    (small / "bad.jsonl").write_text(lines[0] + '\n{"id": "x", "text": 3}\n')
    out = tmp_path / "out"
    proc = job(small, out, model_dir, "--actors", "1")
    log, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, log
    assert "FAILED bad.jsonl" in log and "bad.jsonl: row 1: field 'text' is int, not a string" in log
    assert sorted(outputs(out)) == ["a.parquet"] and not list(out.glob("*.tmp-*"))
    assert pq.ParquetFile(out / "a.parquet").metadata.num_rows == 40
    assert json.loads((out / "_summary.json").read_text())["failed_files"].keys() == {"bad.jsonl"}


def test_bad_options_are_clear_errors(model_dir, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "akidb_embed.ray_embed", *args],
                              capture_output=True, text=True, timeout=120)
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    r = run(str(tmp_path / "a.jsonl"), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "none"))
    assert r.returncode == 2 and "ModelError" in r.stderr and "akidb.json" in r.stderr
    r = run(str(tmp_path / "missing"), "-o", str(tmp_path / "o"), "--model", str(model_dir))
    assert r.returncode == 2 and "no such file or folder" in r.stderr
    r = run(str(tmp_path / "a.jsonl"), "-o", str(tmp_path / "o"), "--model", str(model_dir), "--actors", "0")
    assert r.returncode == 2 and "--actors must be at least 1" in r.stderr
