#!/usr/bin/env bash
# `make container`: the base image (once), then deploy/Containerfile.
# Usage: deploy/build-image.sh
set -euo pipefail
source "$(dirname "$0")/podman.sh"
cd "$DEPLOY_DIR/.."
ensure_podman

if ! pod image exists "$BASE_IMAGE"; then
  # No registry is reachable: a Debian bookworm minbase root file system,
  # trimmed of documentation and locales, imported as the base image.
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  echo "[container] debootstrap bookworm (minbase) for $BASE_IMAGE" >&2
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  rm -rf "$rootfs"/usr/share/{doc,man,info,locale}/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/*
  # Keep the trimmed paths trimmed when the stages install packages.
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/01-akidb-nodoc"
  tar -C "$rootfs" -c . | pod import - "$BASE_IMAGE" >/dev/null
fi

echo "[container] building $IMAGE" >&2
# The host's CA bundle (AKIDB_BUILD_CA, default the system one) is mounted
# into the build's RUN steps only, for registries behind a TLS proxy; it is
# not part of any layer.
ca=${AKIDB_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
volume=()
[ -s "$ca" ] && volume=(--volume "$ca:/run/akidb-build-ca.crt:ro")
pod build --format docker --network host "${volume[@]}" -f deploy/Containerfile \
  --build-arg BASE="$BASE_IMAGE" -t "$IMAGE" .
pod image ls "$IMAGE"
