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
  app.add_option("--backend", options.backend,
                 "inference backend: onnx (in process) or python (bridge to Python workers)")
      ->envname("AKIDB_BACKEND")
      ->check(CLI::IsMember({"onnx", "python"}))
      ->capture_default_str();
  app.add_option("--threads", options.threads, "intra-op threads (0: all cores)")
      ->envname("AKIDB_THREADS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--workers", options.workers, "python backend: worker processes")
      ->envname("AKIDB_WORKERS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--python", options.python,
                 "python backend: interpreter (default: $AKIDB_PYTHON, else the .venv)")
      ->envname("AKIDB_PYTHON");
  app.add_option("--framing", options.framing, "python backend: wire framing")
      ->envname("AKIDB_FRAMING")
      ->check(CLI::IsMember({"binary", "json"}))
      ->capture_default_str();
}

OnnxProviderOptions onnx_options(const ModelOptions& options) {
  OnnxProviderOptions opts;
  opts.model_dir = options.model_dir;
  opts.variant = options.variant;
  opts.intra_op_threads = options.threads;
  return opts;
}

PythonBridgeOptions python_options(const ModelOptions& options) {
  PythonBridgeOptions opts;
  opts.model_dir = options.model_dir;
  opts.variant = options.variant;
  opts.threads = options.threads;
  opts.workers = options.workers;
  opts.python = options.python;
  opts.framing = options.framing == "json" ? BridgeFraming::Json : BridgeFraming::Binary;
  return opts;
}

std::unique_ptr<EmbeddingProvider> make_provider(const ModelOptions& options) {
  if (options.backend == "onnx") return std::make_unique<OnnxProvider>(onnx_options(options));
  if (options.backend == "python")
    return std::make_unique<PythonBridgeProvider>(python_options(options));
  throw invalid_request("unknown backend '" + options.backend + "'");
}

}  // namespace akidb::embed::cli
