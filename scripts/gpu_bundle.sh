#!/usr/bin/env bash
# Packs what scripts/gpu_check.sh needs for a GPU machine that cannot reach a
# package registry and takes at most 64 MiB per call (the lent H200): the
# built binary with its non-system libraries, the model's fp32 graph and
# tokenizer, and the GPU build of ONNX Runtime (`make setup-cuda`'s
# directory) without the nvidia-* libraries (that machine's Python has the
# CUDA 13 wheels: nvidia-cublas, -cuda-runtime, -cudnn-cu13, ...). Written as
# a gzipped tar (gzip, not zstd: every base image has it; 5% larger) in parts
# of 58 MiB into .gpu/ (git-ignored): a call carries one part and the 4.7 MB
# tree, under its 64 MiB. docs/devices.md, "Checking on a GPU":
#
#   here:  make setup-cuda && make build && scripts/gpu_bundle.sh
#   there, one call per part:  mkdir -p /tmp/gpu && cp .gpu/part-* /tmp/gpu/   (carry [".gpu/part-aa"], ...)
#   there, last call:          scripts/gpu_bundle.sh --unpack /tmp/gpu && \
#                              LD_LIBRARY_PATH=/tmp/gpu/root/lib AKIDB_BINARY=/tmp/gpu/root/bin/akidb-embed \
#                              AKIDB_MODEL_DIR=/tmp/gpu/root/model AKIDB_CUDA_DIR=/tmp/gpu/root/cuda \
#                              OUT=$OUT scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --unpack ]; then
  dir=$2
  mkdir -p "$dir/root"
  cat "$dir"/part-* | tar xz -C "$dir/root"
  # The CUDA 13 libraries of the machine's own Python, where gpu_check's loader looks.
  site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  ln -sfn "$site/nvidia" "$dir/root/cuda/nvidia"
  echo "unpacked into $dir/root; nvidia libraries from $site/nvidia"
  exit 0
fi
BIN=${AKIDB_BINARY:-build/akidb-embed}
CUDA=${AKIDB_CUDA_DIR:-third_party/onnxruntime-cuda}
MODEL=${AKIDB_MODEL_DIR:-models/all-MiniLM-L6-v2}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/model" "$stage/cuda/onnxruntime/capi"
cp "$BIN" "$stage/bin/"
# Libraries outside glibc/libstdc++ (Debian's utf8proc, simdjson, httplib,
# ONNX Runtime CPU, OpenVINO when built in), next to the binary's RPATH.
ldd "$BIN" | awk '/=> \// {print $3}' | grep -Ev '/libc\.so|/libm\.so|/libstdc\+\+|/libgcc_s|/ld-linux|/libpthread|/libdl\.so|/librt\.so' |
  while read -r lib; do cp -L "$lib" "$stage/lib/"; done
for f in akidb.json tokenizer.json config.json model.onnx; do cp -L "$MODEL/$f" "$stage/model/"; done
cp -L "$CUDA"/onnxruntime/capi/libonnxruntime.so.1.29.0 "$CUDA"/onnxruntime/capi/libonnxruntime_providers_shared.so \
  "$CUDA"/onnxruntime/capi/libonnxruntime_providers_cuda.so "$stage/cuda/onnxruntime/capi/"
rm -rf .gpu && mkdir -p .gpu  # git-ignored
tar c -C "$stage" . | gzip -6 | split -b 58M - .gpu/part-
ls -la .gpu
