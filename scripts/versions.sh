# Pinned versions of everything the set-up installs. Change here, nowhere else.
# shellcheck disable=SC2034
ORT_VERSION=1.29.0
ORT_API_VERSION=29
# Official ONNX Runtime 1.29.0 C/C++ API headers, as shipped inside the
# onnxruntime.xcframework of this npm package (the PyPI wheel has no headers).
ORT_HEADERS_NPM=com.github.asus4.onnxruntime@0.4.9
# Swagger UI for GET /docs: its bundle and stylesheet are compiled into the
# server binary (src/server/embedded_assets.cpp), never fetched at run time.
SWAGGER_UI_NPM=swagger-ui-dist@5.35.0
# Building and running (`make run`; GoogleTest because the default build
# compiles the unit tests too).
DEBIAN_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libutf8proc-dev libsimdjson-dev libboost-dev
  nlohmann-json3-dev libcli11-dev
)
# Only for `make test` / `make fuzz`: format check and libFuzzer.
DEBIAN_DEV_PACKAGES=(clang clang-format libclang-rt-14-dev)
