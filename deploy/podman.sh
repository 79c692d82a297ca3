#!/usr/bin/env bash
# Shared by the deploy scripts: installs podman, runc and debootstrap if
# missing (Debian packages) and runs podman with deploy/containers.conf.
set -euo pipefail
DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export CONTAINERS_CONF="$DEPLOY_DIR/containers.conf"
IMAGE=${AKIDB_IMAGE:-localhost/akidb-embed:latest}
BASE_IMAGE=${AKIDB_BASE_IMAGE:-localhost/akidb-base:bookworm}

ensure_podman() {
  local missing=()
  for pkg in podman runc debootstrap; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "[container] installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

pod() { podman --cgroup-manager=cgroupfs --runtime=runc "$@"; }
