#include "akidb/embed/factory.hpp"

#include "akidb/embed/error.hpp"

namespace akidb::embed {
namespace {

OnnxProviderOptions onnx_options(const ProviderOptions& o) {
  OnnxProviderOptions opts;
  opts.model_dir = o.model_dir;
  opts.variant = o.variant;
  opts.intra_op_threads = o.threads;
  opts.allow_spinning = o.allow_spinning;
  opts.optimization = o.optimization;
  opts.fixed_padding = o.fixed_padding;
  opts.profile_prefix = o.profile_prefix;
  opts.pipeline = o.pipeline;
  return opts;
}

PythonBridgeOptions python_options(const ProviderOptions& o) {
  PythonBridgeOptions opts;
  opts.model_dir = o.model_dir;
  opts.variant = o.variant;
  opts.threads = o.threads;
  opts.workers = o.workers;
  opts.python = o.python;
  opts.framing = o.framing;
  return opts;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::vector<std::string> available_engines() { return {"onnx", "python"}; }

std::unique_ptr<EmbeddingProvider> make_provider(const ProviderOptions& options) {
  if (options.engine == "onnx") return std::make_unique<OnnxProvider>(onnx_options(options));
  if (options.engine == "python")
    return std::make_unique<PythonBridgeProvider>(python_options(options));
  throw invalid_request("unknown engine '" + options.engine +
                        "' (available: " + joined(available_engines()) + ")");
}

}  // namespace akidb::embed
