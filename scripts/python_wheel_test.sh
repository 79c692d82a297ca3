#!/usr/bin/env bash
# Builds the akidb_embed wheel (pip wheel ./python), installs it into a
# virtual environment of its own and runs tests/python from outside the
# repository, so the tests import the installed package, not the source tree.
# Usage: scripts/python_wheel_test.sh [BUILD_DIR [TEST_FILE...]]   (BUILD_DIR
# holds the CLI the parity tests run, and the wheel: BUILD_DIR/wheel;
# TEST_FILEs: files of tests/python to run, default all of them)
# The environment has python/requirements-wheel.txt and the scale-out set
# python/requirements-scale.txt (Ray, for akidb_embed.ray_embed/ray_serve).
# AKIDB_WHEEL_VENV overrides the environment's path; AKIDB_SCALE_SENTENCES the
# Ray job test's corpus size (800; `make test-scale`: 20,000); AKIDB_TEST_RUNS
# runs the tests that many times in a row, stopping at the first failure
# (`make test-flaky`; default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${1:-build}
shift || true
TESTS=("${@:-.}")
VENV=${AKIDB_WHEEL_VENV:-${TMPDIR:-/tmp}/akidb-wheel-venv-$(printf %s "$ROOT" | sha256sum | cut -c1-12)}
log() { printf '[python] %s\n' "$*" >&2; }

want=$(cat python/requirements-wheel.txt python/requirements-scale.txt python/constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$VENV/.akidb-stamp" ] || [ "$(cat "$VENV/.akidb-stamp")" != "$want" ]; then
  log "creating $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r python/requirements-wheel.txt \
    -r python/requirements-scale.txt -c python/constraints.txt
  echo "$want" >"$VENV/.akidb-stamp"
fi

log "building the wheel (incremental, in python/build)"
rm -rf "$BUILD_DIR/wheel"
CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-$(nproc)} "$VENV/bin/pip" wheel -q --disable-pip-version-check \
  --no-build-isolation --no-deps ./python -w "$BUILD_DIR/wheel"
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps \
  "$BUILD_DIR"/wheel/akidb_embed-*.whl

log "testing the installed wheel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
RUNS=${AKIDB_TEST_RUNS:-1}
start=$SECONDS
for ((run = 1; run <= RUNS; run++)); do
  [ "$RUNS" -eq 1 ] || log "run $run of $RUNS"
  AKIDB_REPO=$ROOT AKIDB_BINARY=$ROOT/$BUILD_DIR/akidb-embed \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider --rootdir "$ROOT/tests/python" \
    "${TESTS[@]/#/$ROOT/tests/python/}" || { log "failed in run $run of $RUNS"; exit 1; }
done
[ "$RUNS" -eq 1 ] || log "$RUNS runs in a row passed in $((SECONDS - start)) s"
