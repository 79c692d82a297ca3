#pragma once
// Options and helpers shared by the akidb-embed subcommands.
#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "akidb/embed/factory.hpp"

namespace akidb::embed::cli {

struct ModelOptions {
  ProviderOptions provider;
  std::string framing = "binary";  // the python engine's wire framing
};

// Adds --model, --variant, --engine (alias --backend), --device, --threads,
// --max-inference-tokens and the python engine's --workers, --python,
// --framing (each with an AKIDB_* environment fallback).
void add_model_options(CLI::App& app, ModelOptions& options);
// The library's options, with the CLI's string choices resolved.
ProviderOptions provider_options(const ModelOptions& options);
std::unique_ptr<EmbeddingProvider> make_provider(const ModelOptions& options);

// Each subcommand registers itself and runs when selected.
void register_embed(CLI::App& app);
void register_info(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_bench(CLI::App& app);
void register_prepare(CLI::App& app);
void register_serve(CLI::App& app);  // only with AKIDB_WITH_SERVER

}  // namespace akidb::embed::cli
