#include "cli/common.hpp"

#include "akidb/embed/error.hpp"

namespace akidb::embed::cli {

void add_model_options(CLI::App& app, ModelOptions& options) {
  options.model_dir = "models/all-MiniLM-L6-v2";
  app.add_option("--model", options.model_dir,
                 "model directory (akidb.json, model.onnx, tokenizer.json)")
      ->envname("AKIDB_MODEL_DIR")
      ->capture_default_str();
  app.add_option("--variant", options.variant,
                 "model variant from the manifest: fp32, opt, int8 (default: the manifest's)")
      ->envname("AKIDB_VARIANT")
      ->capture_default_str();
  app.add_option("--backend", options.backend, "inference backend")
      ->envname("AKIDB_BACKEND")
      ->check(CLI::IsMember({"onnx"}))
      ->capture_default_str();
  app.add_option("--threads", options.threads, "intra-op threads (0: all cores)")
      ->envname("AKIDB_THREADS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

OnnxProviderOptions onnx_options(const ModelOptions& options) {
  OnnxProviderOptions opts;
  opts.model_dir = options.model_dir;
  opts.variant = options.variant;
  opts.intra_op_threads = options.threads;
  return opts;
}

std::unique_ptr<EmbeddingProvider> make_provider(const ModelOptions& options) {
  if (options.backend == "onnx") return std::make_unique<OnnxProvider>(onnx_options(options));
  throw invalid_request("unknown backend '" + options.backend + "'");
}

}  // namespace akidb::embed::cli
