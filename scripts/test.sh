#!/usr/bin/env bash
# Runs every test: C++ unit tests (release and ASan/UBSan builds), the
# end-to-end pytest suite against real processes, and the format check.
# Usage: scripts/test.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
JOBS=$(nproc)

echo "== unit tests ($BUILD_DIR)"
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS")

echo "== unit tests under ASan/UBSan (build-asan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DAKIDB_SANITIZE=ON -DAKIDB_WERROR=ON >/dev/null
cmake --build build-asan -j "$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$JOBS")

echo "== end-to-end tests"
AKIDB_BINARY="$PWD/$BUILD_DIR/akidb-embed" .venv/bin/python -m pytest -q tests/e2e

echo "== format check"
clang-format --dry-run --Werror $(git ls-files '*.cpp' '*.hpp')
echo "all tests passed"
