"""Embeds a corpus of JSONL or Parquet files on Ray (Ray Data).

    python -m akidb_embed.ray_embed INPUT... --output DIR --model MODEL_DIR

Each input file (or every .jsonl/.ndjson/.parquet file under an input
folder) becomes one Parquet file in DIR with the columns id, text_sha256 and
vector (float32, the model's dimension). The files are the unit of work:
Ray Data's map_batches hands them, one at a time, to a pool of actors, each
holding one akidb_embed.Embedder that reads its file, embeds it and writes
the output itself (under a temporary name, renamed when complete).

Resumable: a rerun skips every output file whose row count equals its
input's, and redoes the others (missing, unreadable, or another count). Each
run takes the output folder's lease (akidb_embed.job_lease) before it plans,
and a file is committed only under its run's lease, so a worker that outlived
a killed driver cannot finish a file behind a rerun's back.
Progress is printed per finished file, and a summary at the end: sentences,
sentences/s per actor and in total (also written to DIR/_summary.json).
See docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path

from ._errors import EmbedError
from .corpus_files import CorpusError, FileTask, embed_file, plan, task_rows
from .job_lease import Lease, SupersededError


def log(message: str) -> None:
    print(f"[ray_embed] {message}", flush=True)


class EmbedFiles:
    """A Ray Data actor: one Embedder, embeds the files of each batch it gets."""

    def __init__(self, model_dir: str, variant: str | None, threads: int, text_field: str,
                 id_field: str, batch_size: int, output_dir: str, lease_token: str):
        import akidb_embed

        self.embedder = akidb_embed.Embedder(model_dir, variant=variant, threads=threads)
        info = self.embedder.info
        self.metadata = {"akidb.model": str(info["model"]), "akidb.variant": str(info["variant"])}
        self.options = (text_field, id_field, batch_size)
        self.lease = Lease(output_dir, lease_token)
        self.actor = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict) -> dict:
        """Embeds each file of the batch; a bad file (its error names the file
        and row) is reported in `error` and the job goes on with the others;
        so is a file refused because a newer run took the output folder."""
        from akidb_embed import EmbedError

        rows, seconds, errors = [], [], []
        for i in range(len(batch["name"])):
            task = FileTask(*(str(batch[k][i]) for k in ("name", "source", "output")),
                            rows=int(batch["rows"][i]))
            start = time.perf_counter()
            try:
                rows.append(embed_file(self.embedder, task, *self.options, metadata=self.metadata,
                                       lease=self.lease))
                errors.append("")
            except (CorpusError, EmbedError, SupersededError) as e:
                rows.append(0)
                errors.append(f"{type(e).__name__}: {e}")
            seconds.append(time.perf_counter() - start)
        return {"name": batch["name"], "rows": rows, "seconds": seconds, "error": errors,
                "actor": [self.actor] * len(rows)}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m akidb_embed.ray_embed", description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="+", type=Path, help="JSONL/Parquet files or folders of them")
    p.add_argument("--output", "-o", type=Path, required=True, help="folder of the Parquet outputs")
    p.add_argument("--model", required=True,
                   help="prepared model folder (the same path on every node)")
    p.add_argument("--variant", help="model variant (akidb.json's variants); default: its default")
    p.add_argument("--text-field", default="text", help="the text's field/column (default: text)")
    p.add_argument("--id-field", default="id",
                   help="the id's field/column (default: id); rows without one get NAME:ROW")
    p.add_argument("--batch-size", type=int, default=256,
                   help="consecutive rows per library call (default 256); the vectors equal "
                        "`akidb-embed embed --batch-size N` on the same file")
    p.add_argument("--cores-per-actor", type=int,
                   help="CPUs each actor reserves and its Embedder's threads "
                        "(default: the smallest node's CPUs, i.e. one actor per node)")
    p.add_argument("--actors", type=int,
                   help="actors in the pool (default: as many as the cluster's CPUs hold)")
    p.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS, else a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local Ray started when there is no cluster")
    args = p.parse_args(argv)
    for name in ("batch_size", "cores_per_actor", "actors", "num_cpus"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def pool_shape(args: argparse.Namespace, nodes: list[int], files: int) -> tuple[int, int]:
    """(actors, cores per actor) from the options and the alive nodes' CPUs."""
    cores = args.cores_per_actor or min(nodes)
    fit = sum(n // cores for n in nodes)
    if fit < 1:
        raise CorpusError(f"--cores-per-actor {cores}: no node has that many CPUs ({nodes})")
    actors = args.actors or fit
    return max(1, min(actors, files)), cores


def start_ray(args: argparse.Namespace):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network at run time
    import ray

    address = args.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level="WARNING", log_to_driver=False)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, logging_level="WARNING",
                 log_to_driver=False)
    nodes = [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n["Alive"]]
    return ray, [n for n in nodes if n > 0]


def run(args: argparse.Namespace) -> dict:
    todo, done, lease = plan(args.inputs, args.output)
    total = sum(t.rows for t in todo)
    log(f"{len(todo) + len(done)} files: {len(done)} already done (row counts verified), "
        f"{len(todo)} to embed ({total:,} sentences)")
    summary = {"files": len(todo) + len(done), "skipped_files": len(done), "embedded_files": 0,
               "failed_files": {}, "sentences": 0, "seconds": 0.0, "sentences_per_s": 0.0, "actors": {}}
    if todo:
        summary.update(embed(args, todo, total, lease))
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def check_model(args: argparse.Namespace) -> None:
    """Loads the model once here, so a bad --model or --variant is one clear
    error (akidb_embed.ModelError, ...) before any actor starts."""
    import akidb_embed

    akidb_embed.Embedder(args.model, variant=args.variant, threads=1)


def embed(args: argparse.Namespace, todo: list[FileTask], total: int, lease: Lease) -> dict:
    check_model(args)
    ray, nodes = start_ray(args)
    try:
        actors, cores = pool_shape(args, nodes, len(todo))
        log(f"Ray: {len(nodes)} node(s), {sum(nodes)} CPUs; {actors} actor(s) x {cores} core(s)")
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # one line per finished file instead
        ctx.print_on_execution_start = False
        files = ray.data.from_items(task_rows(todo), override_num_blocks=len(todo))
        results = files.map_batches(
            EmbedFiles, batch_size=1, num_cpus=cores,
            compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
            fn_constructor_kwargs=dict(model_dir=str(Path(args.model).resolve()), variant=args.variant,
                                       threads=cores, text_field=args.text_field,
                                       id_field=args.id_field, batch_size=args.batch_size,
                                       output_dir=str(lease.out_dir.resolve()), lease_token=lease.token))
        start = time.perf_counter()
        per_actor: dict[str, dict] = {}
        sentences = finished = 0
        failed: dict[str, str] = {}
        for row in results.iter_rows():
            if row["error"]:
                failed[row["name"]] = row["error"]
                log(f"FAILED {row['name']} on {row['actor']}: {row['error']}")
                continue
            finished += 1
            sentences += int(row["rows"])
            stats = per_actor.setdefault(row["actor"], {"files": 0, "sentences": 0, "seconds": 0.0})
            stats["files"] += 1
            stats["sentences"] += int(row["rows"])
            stats["seconds"] += float(row["seconds"])
            elapsed = time.perf_counter() - start
            log(f"{finished + len(failed)}/{len(todo)} files, {sentences:,}/{total:,} sentences "
                f"({100 * sentences / max(total, 1):.0f}%), {sentences / elapsed:,.0f}/s; "
                f"{row['name']}: {int(row['rows']):,} in {float(row['seconds']):.1f} s on {row['actor']}")
        seconds = time.perf_counter() - start
    finally:
        ray.shutdown()
    for stats in per_actor.values():
        stats["sentences_per_s"] = round(stats["sentences"] / max(stats["seconds"], 1e-9), 1)
    return {"embedded_files": finished, "failed_files": failed, "sentences": sentences, "seconds": round(seconds, 2),
            "sentences_per_s": round(sentences / max(seconds, 1e-9), 1), "actors": per_actor,
            "pool": {"actors": actors, "cores_per_actor": cores}}


def print_summary(summary: dict) -> None:
    log(f"summary: {summary['embedded_files']} files embedded, {summary['skipped_files']} skipped "
        f"(already done); {summary['sentences']:,} sentences in {summary['seconds']:.1f} s = "
        f"{summary['sentences_per_s']:,.1f} sentences/s")
    for actor, s in sorted(summary["actors"].items()):
        log(f"  actor {actor}: {s['files']} files, {s['sentences']:,} sentences, "
            f"{s['sentences_per_s']:,.1f} sentences/s while embedding")
    for name, error in sorted(summary["failed_files"].items()):
        log(f"  failed: {name}: {error} (fix it and rerun: finished files are skipped)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except (CorpusError, EmbedError) as e:
        print(f"ray_embed: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print_summary(summary)
    return 1 if summary["failed_files"] else 0


if __name__ == "__main__":
    sys.exit(main())
