#!/usr/bin/env bash
# Installs everything akidb-embed needs, idempotently: Debian packages, the
# Python virtual environment, ONNX Runtime (official prebuilt library and its
# C/C++ API headers from registry packages) and the default model directory.
# A second run with everything in place takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/versions.sh

log() { printf '[setup] %s\n' "$*" >&2; }

install_debian_packages() {
  local missing=()
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

make_venv() {
  local want stamp=.venv/.akidb-stamp
  want=$(stamp_of python/requirements.txt python/constraints.txt python/pyproject.toml scripts/versions.sh)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  log "creating Python environment in .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r python/requirements.txt -c python/constraints.txt
  # The tools import from the source tree (python/ on sys.path), as an
  # editable install did: python/pyproject.toml now builds the C++ extension
  # (the wheel; scripts/python_wheel_test.sh), which needs ONNX Runtime first.
  .venv/bin/pip uninstall -q -y akidb-embed-tools 2>/dev/null || true
  local site
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$ROOT/python" >"$site/akidb-embed-tools.pth"
  echo "$want" >"$stamp"
}

fetch_onnxruntime() {
  local dir=third_party/onnxruntime stamp=third_party/onnxruntime/.akidb-stamp
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ORT_VERSION/$ORT_HEADERS_NPM" ] && return
  log "installing ONNX Runtime $ORT_VERSION (library from PyPI onnxruntime, headers from npm $ORT_HEADERS_NPM)"
  rm -rf "$dir" && mkdir -p "$dir/lib" "$dir/include" .cache
  local capi
  capi=$(.venv/bin/python -c 'import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))')
  cp "$capi/libonnxruntime.so.$ORT_VERSION" "$dir/lib/"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$dir/lib/libonnxruntime.so.1"
  ln -sf "libonnxruntime.so.1" "$dir/lib/libonnxruntime.so"
  local tgz
  tgz=$(cd .cache && npm pack --silent "$ORT_HEADERS_NPM" | tail -n 1)
  local tmp
  tmp=$(mktemp -d)
  tar xzf ".cache/$tgz" -C "$tmp"
  cp "$tmp"/package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers/*.h "$dir/include/"
  rm -rf "$tmp"
  grep -q "#define ORT_API_VERSION $ORT_API_VERSION\$" "$dir/include/onnxruntime_c_api.h" || {
    log "header API version does not match ONNX Runtime $ORT_VERSION"
    exit 1
  }
  echo "$ORT_VERSION/$ORT_HEADERS_NPM" >"$stamp"
}

prepare_model() {
  local out=models/all-MiniLM-L6-v2 want stamp=models/all-MiniLM-L6-v2/.akidb-stamp
  want=$(stamp_of python/akidb_embed/prepare_model.py python/akidb_embed/bert_graph.py scripts/versions.sh)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  log "preparing the default model in $out"
  .venv/bin/python -m akidb_embed.prepare_model --out "$out"
  echo "$want" >"$stamp"
}

require_commands() {
  for cmd in python3 npm; do
    command -v "$cmd" >/dev/null || { log "missing '$cmd': install Python 3.11+ and Node.js/npm first"; exit 1; }
  done
}

install_debian_packages
require_commands
make_venv
fetch_onnxruntime
prepare_model
