"""Tests of the installed akidb_embed wheel (scripts/test.sh stage `python`).

They run from a directory outside the repository, in a virtual environment
the wheel was installed into, so `import akidb_embed` is the installed
package. AKIDB_REPO names the repository (for the model and the CLI),
AKIDB_BINARY the CLI, AKIDB_MODEL_DIR the model (default: the repo's
models/all-MiniLM-L6-v2).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(os.environ.get("AKIDB_REPO", Path(__file__).resolve().parents[2]))
MODEL_DIR = Path(os.environ.get("AKIDB_MODEL_DIR", REPO / "models" / "all-MiniLM-L6-v2"))
BINARY = Path(os.environ.get("AKIDB_BINARY", REPO / "build" / "akidb-embed"))

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar.",
    "Héllo wörld — naïve café, 東京 and emoji 🙂",
    "short",
    "Embeddings are vectors; similar sentences map to nearby points. " * 3,
    "   leading and trailing spaces   ",
    "UPPER case Words and numbers 12345 3.14159",
    "tokenization: don't, can't, won't; e-mail@example.com",
]


@pytest.fixture(scope="session")
def model_dir() -> Path:
    if not (MODEL_DIR / "akidb.json").is_file():
        pytest.fail(f"no prepared model at {MODEL_DIR} (run scripts/setup.sh)")
    return MODEL_DIR


@pytest.fixture(scope="session")
def embedder(model_dir):
    import akidb_embed
    return akidb_embed.Embedder(model_dir, threads=2)


def pytest_configure(config):
    # Ray Serve's own pydantic models warn on import; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:ray.*")
    config.addinivalue_line("filterwarnings", "ignore:Using extra keyword arguments on `Field`")
