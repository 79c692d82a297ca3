"""The files of a corpus embedding job, without Ray: which inputs there are,
their row counts, reading their texts in groups, and writing and checking the
Parquet output, one output file per input file.

akidb_embed.ray_embed distributes these over Ray actors. An output file is
written under a temporary name and renamed when complete, so a killed job
leaves no half-written output, and it is "done" only when its row count is
the input's. The rename happens only while the run holds the output folder's
lease (akidb_embed.job_lease), which plan() takes: a worker of an earlier,
dead run cannot commit a file once a rerun has planned.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .job_lease import Lease

INPUT_SUFFIXES = (".jsonl", ".ndjson", ".parquet")
TMP_MARK = ".tmp-"


class CorpusError(ValueError):
    """A bad input file or option; the message names the file (and line)."""


@dataclass(frozen=True)
class FileTask:
    """One input file and the output file it becomes."""

    name: str  # the input's path relative to the input folder it came from
    source: str
    output: str
    rows: int


def find_inputs(paths: list[Path]) -> list[tuple[str, Path]]:
    """(name, file) for every input: a file as given, or each .jsonl/.ndjson/.parquet
    file under a folder (recursively, sorted), named relative to that folder."""
    found: dict[str, Path] = {}
    for path in paths:
        if path.is_dir():
            files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix in INPUT_SUFFIXES)
            named = [(f.relative_to(path).as_posix(), f) for f in files]
        elif path.is_file():
            if path.suffix not in INPUT_SUFFIXES:
                raise CorpusError(f"{path}: not a {'/'.join(INPUT_SUFFIXES)} file")
            named = [(path.name, path)]
        else:
            raise CorpusError(f"{path}: no such file or folder")
        for name, f in named:
            if name in found:
                raise CorpusError(f"{f} and {found[name]} would write the same output {name}")
            found[name] = f
    if not found:
        raise CorpusError(f"no {'/'.join(INPUT_SUFFIXES)} files in {', '.join(map(str, paths))}")
    return list(found.items())


def count_rows(path: Path) -> int:
    """Rows of an input file: non-blank lines of JSONL, Parquet's row count."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def output_rows(path: Path) -> int | None:
    """Rows of a finished output file; None when it is missing or unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, pa.ArrowException):
        return None


def output_path(out_dir: Path, name: str) -> Path:
    return out_dir / Path(name).with_suffix(".parquet")


def plan(inputs: list[Path], out_dir: Path) -> tuple[list[FileTask], list[FileTask], Lease]:
    """(to do, done, this run's lease): an input is done when its output
    exists with its row count; anything else (missing, unreadable, another
    count) is redone. The lease is taken before the outputs are looked at, so
    no earlier run's worker can change them afterwards; leftover temporary
    files of the outputs to do are removed."""
    named = find_inputs(inputs)  # bad inputs are an error before anything is written
    lease = Lease.take(out_dir)
    todo, done = [], []
    for name, source in named:
        out = output_path(out_dir, name)
        task = FileTask(name, str(source), str(out), count_rows(source))
        (done if output_rows(out) == task.rows else todo).append(task)
    for task in todo:
        out = Path(task.output)
        for stale in out.parent.glob(out.name + TMP_MARK + "*") if out.parent.is_dir() else ():
            stale.unlink(missing_ok=True)  # an earlier run's orphan may abort and remove it too
    return todo, done, lease


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict]]:
    with open(path, "rb") as f:
        row = 0
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as e:
                raise CorpusError(f"{path}:{line_no}: not JSON: {e}") from None
            if not isinstance(record, dict):
                raise CorpusError(f"{path}:{line_no}: a JSON object per line expected")
            yield row, record
            row += 1


def _parquet_records(path: Path, columns: list[str]) -> Iterator[tuple[int, dict]]:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    present = [c for c in columns if c in file.schema_arrow.names]
    row = 0
    for batch in file.iter_batches(batch_size=4096, columns=present):
        for record in batch.to_pylist():
            yield row, record
            row += 1


def read_groups(task: FileTask, text_field: str, id_field: str,
                group: int) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) in file order, `group` rows at a time (the last may be
    fewer). The id is the record's id_field as a string, or "name:row"
    (row counted from 0) when the record has none."""
    path = Path(task.source)
    records = (_parquet_records(path, [text_field, id_field]) if path.suffix == ".parquet"
               else _jsonl_records(path))
    ids: list[str] = []
    texts: list[str] = []
    for row, record in records:
        text = record.get(text_field)
        if not isinstance(text, str):
            raise CorpusError(f"{path}: row {row}: field {text_field!r} is "
                              f"{'missing' if text is None else type(text).__name__}, not a string")
        given = record.get(id_field)
        ids.append(f"{task.name}:{row}" if given is None else str(given))
        texts.append(text)
        if len(texts) == group:
            yield ids, texts
            ids, texts = [], []
    if texts:
        yield ids, texts


def text_sha256(texts: list[str]) -> list[str]:
    return [hashlib.sha256(t.encode("utf-8", "surrogatepass")).hexdigest() for t in texts]


class OutputWriter:
    """Parquet output of one input file (id, text_sha256, vector), written to a
    temporary name and renamed into place by commit() once `expected` rows are
    in, if the run still holds `lease`."""

    def __init__(self, task: FileTask, dimension: int, metadata: dict[str, str], lease: Lease):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.final = Path(task.output)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.final.with_name(f"{self.final.name}{TMP_MARK}{uuid.uuid4().hex[:8]}")
        self.expected = task.rows
        self.lease = lease
        self.dimension = dimension
        self.rows = 0
        self.schema = pa.schema([("id", pa.string()), ("text_sha256", pa.string()),
                                 ("vector", pa.list_(pa.float32(), dimension))],
                                metadata={k.encode(): v.encode() for k, v in metadata.items()})
        self._writer = pq.ParquetWriter(self.tmp, self.schema)

    def write(self, ids: list[str], texts: list[str], vectors: np.ndarray) -> None:
        self.lease.check()  # an orphan of a dead run stops at its next write
        pa = self._pa
        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
        table = pa.Table.from_arrays(
            [pa.array(ids, pa.string()), pa.array(text_sha256(texts), pa.string()),
             pa.FixedSizeListArray.from_arrays(flat, self.dimension)], schema=self.schema)
        self._writer.write_table(table)
        self.rows += len(ids)

    def commit(self) -> None:
        self._writer.close()
        if self.rows != self.expected:
            self.tmp.unlink(missing_ok=True)
            raise CorpusError(f"{self.final}: wrote {self.rows} rows, the input has {self.expected}")
        try:
            self.lease.commit(self.tmp, self.final)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise

    def abort(self) -> None:
        self._writer.close()  # a no-op once closed
        self.tmp.unlink(missing_ok=True)


def embed_file(embedder, task: FileTask, text_field: str, id_field: str, batch_size: int,
               metadata: dict[str, str], lease: Lease, flush_rows: int = 8192) -> int:
    """Embeds one input file into its output file, committed under the run's
    lease (job_lease.SupersededError when a newer run took it); returns its rows.

    Each library call gets `batch_size` consecutive rows of the file, so the
    vectors are bit-identical to `akidb-embed embed --batch-size batch_size`
    on the same file."""
    writer = OutputWriter(task, embedder.get_sentence_embedding_dimension(),
                          {**metadata, "akidb.source": task.name, "akidb.rows": str(task.rows)}, lease)
    try:
        pending: list[tuple[list[str], list[str], np.ndarray]] = []
        first = 0
        for ids, texts in read_groups(task, text_field, id_field, batch_size):
            pending.append((ids, texts, _encode(embedder, task, first, texts, batch_size)))
            first += len(texts)
            if sum(len(p[0]) for p in pending) >= flush_rows:
                _flush(writer, pending)
        _flush(writer, pending)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return writer.rows


def _encode(embedder, task: FileTask, first: int, texts: list[str], batch_size: int) -> np.ndarray:
    from ._errors import InvalidInputError

    try:
        return embedder.encode(texts, batch_size=batch_size)
    except InvalidInputError as e:
        where = f"row {first + e.index}" if e.index is not None else f"rows {first}-{first + len(texts) - 1}"
        raise CorpusError(f"{task.source}: {where}: {e}") from e


def _flush(writer: OutputWriter, pending: list) -> None:
    if pending:
        writer.write([i for p in pending for i in p[0]], [t for p in pending for t in p[1]],
                     np.concatenate([p[2] for p in pending]))
        pending.clear()


def task_rows(tasks: list[FileTask]) -> list[dict]:
    return [asdict(t) for t in tasks]
