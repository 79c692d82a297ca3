#include "akidb/embed/factory.hpp"

#include <algorithm>

#include "akidb/embed/error.hpp"
#include "akidb/embed/manifest.hpp"
#include "akidb/embed/native_engine.hpp"
#include "devices/device_select.hpp"
#include "engines/device_guard.hpp"
#include "providers/hang_injector.hpp"

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

// A started device engine behind the run-time device policy (DeviceGuard).
std::unique_ptr<EmbeddingProvider> guarded(devices::StartedEngine started,
                                           const ProviderOptions& o) {
  if (o.on_device) o.on_device(started.choice);
  started.parts.engine =
      std::make_unique<DeviceGuard>(std::move(started.parts.engine), o.inject_device_failure_after);
  return std::make_unique<EmbeddingPipeline>(std::move(started.parts), o.pipeline);
}

// The variants the native engine runs from model.safetensors (no ONNX graph).
bool native_runs(const std::string& variant) {
  return variant.empty() || variant == "fp32" || variant == "bf16" || variant == "int8";
}

// The pipeline over the native C++ encoder (model.safetensors + config.json).
std::unique_ptr<EmbeddingProvider> native_provider(const ProviderOptions& o) {
  if (!native_runs(o.variant)) {
    throw invalid_request("the native engine runs fp32, bf16 or int8; variant '" + o.variant +
                          "' is an ONNX Runtime graph (use --engine onnx)");
  }
  // The manifest's fp32 entry stands for model.safetensors + config.json; the
  // bf16 and int8 weights are converted from them at load (no ONNX file).
  auto model = LoadedModel::load(o.model_dir, "fp32");
  model.variant = o.variant.empty() ? "fp32" : o.variant;  // what info and /info report
  NativeEngineOptions engine;
  engine.model_dir = o.model_dir;
  engine.threads = static_cast<std::size_t>(o.threads);
  engine.isa = o.isa;
  engine.variant = model.variant;
  engine.cache = o.native_cache;
  std::unique_ptr<InferenceEngine> native = std::make_unique<NativeEngine>(std::move(engine));
  if (o.inject_device_failure_after != 0)
    native = std::make_unique<DeviceGuard>(std::move(native), o.inject_device_failure_after);
  return std::make_unique<EmbeddingPipeline>(PipelineParts{std::move(model), std::move(native)},
                                             o.pipeline);
}

// ONNX graphs on the chosen device, behind the run-time device policy.
std::unique_ptr<EmbeddingProvider> device_provider(const ProviderOptions& o) {
  if (o.device == "cpu" && o.inject_device_failure_after == 0) {
    if (o.on_device) o.on_device({"cpu", "the default device"});
    return std::make_unique<OnnxProvider>(onnx_options(o));
  }
  return guarded(devices::start_device(o), o);
}

// The other engines run on the CPU only.
void require_cpu(const ProviderOptions& o) {
  if (o.device == "cpu" || o.device == "auto") return;
  throw invalid_request("the " + o.engine + " engine runs on the CPU only; --device " + o.device +
                        " needs --engine onnx");
}

// Whether `auto` takes the native engine on a CPU: the model directory has
// its files (the manifest lists it) and the variant is one it runs.
bool native_fits(const ProviderOptions& o) {
  const auto engines = load_manifest(o.model_dir).engines;
  return native_runs(o.variant) &&
         std::find(engines.begin(), engines.end(), "native") != engines.end();
}

// `--engine auto`, the default: an accelerator when `--device auto` finds
// one; on a CPU the native engine wherever it fits (it is faster than ONNX
// Runtime at every batch size, BENCHMARKS.md), else ONNX Runtime.
std::unique_ptr<EmbeddingProvider> auto_provider(const ProviderOptions& o) {
  ProviderOptions chosen = o;
  chosen.engine = "onnx";
  if (o.device != "cpu" && o.device != "auto") return device_provider(chosen);
  std::string why;
  if (o.device == "auto") {
    if (auto accelerator = devices::start_accelerator(o, why))
      return guarded(std::move(*accelerator), o);
  }
  if (!native_fits(o)) return device_provider(chosen);
  chosen.engine = "native";
  if (o.on_device) {
    o.on_device({"cpu", o.device == "auto" ? "auto chose cpu (native engine): " + why
                                           : "the default device (native engine)"});
  }
  return native_provider(chosen);
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

std::vector<std::string> available_engines() { return {"auto", "onnx", "native", "python"}; }

std::unique_ptr<EmbeddingProvider> make_provider(const ProviderOptions& options) {
  if (options.inject_hang_after != 0) {
    ProviderOptions inner = options;
    inner.inject_hang_after = 0;
    return std::make_unique<HangInjector>(make_provider(inner), options.inject_hang_after);
  }
  if (options.engine == "auto") return auto_provider(options);
  if (options.engine == "onnx") return device_provider(options);
  if (options.engine == "native" || options.engine == "python") require_cpu(options);
  if (options.engine == "native") return native_provider(options);
  if (options.engine == "python")
    return std::make_unique<PythonBridgeProvider>(python_options(options));
  throw invalid_request("unknown engine '" + options.engine +
                        "' (available: " + joined(available_engines()) + ")");
}

}  // namespace akidb::embed
