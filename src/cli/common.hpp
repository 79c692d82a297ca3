#pragma once
// Options and helpers shared by the akidb-embed subcommands.
#include <CLI/CLI.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "akidb/embed/onnx_provider.hpp"
#include "akidb/embed/provider.hpp"
#include "akidb/embed/python_bridge_provider.hpp"

namespace akidb::embed::cli {

struct ModelOptions {
  std::string model_dir;
  std::string variant;  // empty: the manifest's default_variant
  std::string backend = "onnx";
  int threads = 0;
  // The python backend (PythonBridgeProvider):
  std::size_t workers = 1;
  std::string python;  // interpreter; empty: the provider's default
  std::string framing = "binary";
};

// Adds --model, --variant, --backend, --threads and the python backend's
// --workers, --python, --framing (with AKIDB_* environment fallbacks).
void add_model_options(CLI::App& app, ModelOptions& options);
OnnxProviderOptions onnx_options(const ModelOptions& options);
PythonBridgeOptions python_options(const ModelOptions& options);
std::unique_ptr<EmbeddingProvider> make_provider(const ModelOptions& options);

// Each subcommand registers itself and runs when selected.
void register_embed(CLI::App& app);
void register_info(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_bench(CLI::App& app);
void register_serve(CLI::App& app);  // only with AKIDB_WITH_SERVER

}  // namespace akidb::embed::cli
