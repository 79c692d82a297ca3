#include "akidb/embed/factory.hpp"

#include "akidb/embed/error.hpp"
#include "akidb/embed/native_engine.hpp"
#include "devices/device_select.hpp"
#include "engines/device_guard.hpp"

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

// The pipeline over the native C++ encoder (model.safetensors + config.json).
std::unique_ptr<EmbeddingProvider> native_provider(const ProviderOptions& o) {
  const bool int8 = o.variant == "int8";
  if (!o.variant.empty() && o.variant != "fp32" && !int8) {
    throw invalid_request("the native engine runs fp32 or int8; variant '" + o.variant +
                          "' is an ONNX Runtime graph (use --engine onnx)");
  }
  // The manifest's fp32 entry stands for model.safetensors + config.json; the
  // int8 weights are quantized from them at load (no ONNX file involved).
  auto model = LoadedModel::load(o.model_dir, "fp32");
  if (int8) model.variant = "int8";
  NativeEngineOptions engine;
  engine.model_dir = o.model_dir;
  engine.variant = int8 ? "int8" : "fp32";
  engine.threads = static_cast<std::size_t>(o.threads);
  engine.isa = o.isa;
  auto native = std::make_unique<NativeEngine>(std::move(engine));
  return std::make_unique<EmbeddingPipeline>(PipelineParts{std::move(model), std::move(native)},
                                             o.pipeline);
}

// ONNX graphs on the chosen device, behind the run-time device policy.
std::unique_ptr<EmbeddingProvider> device_provider(const ProviderOptions& o) {
  if (o.device == "cpu" && o.inject_device_failure_after == 0) {
    if (o.on_device) o.on_device({"cpu", "the default device"});
    return std::make_unique<OnnxProvider>(onnx_options(o));
  }
  auto started = devices::start_device(o);
  if (o.on_device) o.on_device(started.choice);
  started.parts.engine =
      std::make_unique<DeviceGuard>(std::move(started.parts.engine), o.inject_device_failure_after);
  return std::make_unique<EmbeddingPipeline>(std::move(started.parts), o.pipeline);
}

// The other engines run on the CPU only.
void require_cpu(const ProviderOptions& o) {
  if (o.device == "cpu" || o.device == "auto") return;
  throw invalid_request("the " + o.engine + " engine runs on the CPU only; --device " + o.device +
                        " needs --engine onnx");
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::vector<std::string> available_engines() { return {"onnx", "native", "python"}; }

std::unique_ptr<EmbeddingProvider> make_provider(const ProviderOptions& options) {
  if (options.engine == "onnx") return device_provider(options);
  if (options.engine == "native" || options.engine == "python") require_cpu(options);
  if (options.engine == "native") return native_provider(options);
  if (options.engine == "python")
    return std::make_unique<PythonBridgeProvider>(python_options(options));
  throw invalid_request("unknown engine '" + options.engine +
                        "' (available: " + joined(available_engines()) + ")");
}

}  // namespace akidb::embed
