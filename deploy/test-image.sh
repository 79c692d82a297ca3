#!/usr/bin/env bash
# `make test-container`: starts the image and runs tests/container against it.
# Skips (exit 0, with the reason) when podman or the image is absent.
set -euo pipefail
source "$(dirname "$0")/podman.sh"
cd "$DEPLOY_DIR/.."
if ! command -v podman >/dev/null; then
  echo "test-container: SKIPPED: podman is not installed (make container installs it and builds the image)"
  exit 0
fi
if ! pod image exists "$IMAGE"; then
  echo "test-container: SKIPPED: no image $IMAGE (run make container first)"
  exit 0
fi
AKIDB_IMAGE=$IMAGE .venv/bin/python -m pytest -q tests/container
