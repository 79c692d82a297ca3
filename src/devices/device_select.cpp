#include "devices/device_select.hpp"

#include <algorithm>
#include <optional>

#include "akidb/embed/error.hpp"
#include "devices/cuda_probe.hpp"
#include "engines/cuda/cuda_engine.hpp"
#include "engines/onnx/onnx_engine.hpp"
#ifdef AKIDB_WITH_OPENVINO
#include "engines/openvino/openvino_engine.hpp"
#endif

namespace akidb::embed {

std::vector<std::string> available_devices() { return {"cpu", "cuda", "openvino", "auto"}; }

bool openvino_built() noexcept {
#ifdef AKIDB_WITH_OPENVINO
  return true;
#else
  return false;
#endif
}

namespace devices {
namespace {

std::filesystem::path cuda_dir(const ProviderOptions& o) {
  return o.cuda_dir.empty() ? std::filesystem::path(AKIDB_DEFAULT_CUDA_DIR) : o.cuda_dir;
}

std::unique_ptr<InferenceEngine> start_cpu(const ProviderOptions& o, const LoadedModel& model) {
  OnnxEngineConfig config;
  static_cast<GraphConfig&>(config) = graph_config(model);
  config.fixed_padding = o.fixed_padding;
  config.session = {o.threads, o.allow_spinning, o.optimization, o.profile_prefix};
  return std::make_unique<OnnxEngine>(std::move(config));
}

std::unique_ptr<InferenceEngine> start_cuda(const ProviderOptions& o, const LoadedModel& model) {
  if (auto driver = probe_cuda_driver(); !driver.ok)
    throw Error(ErrorCode::Unavailable, driver.why);
  const auto dir = cuda_dir(o);
  if (auto installed = probe_cuda_runtime(dir); !installed.ok)
    throw Error(ErrorCode::Unavailable, installed.why);
  CudaEngineConfig config;
  static_cast<GraphConfig&>(config) = graph_config(model);
  config.runtime_dir = dir;
  return std::make_unique<CudaEngine>(std::move(config));
}

std::unique_ptr<InferenceEngine> start_openvino([[maybe_unused]] const ProviderOptions& o,
                                                [[maybe_unused]] const LoadedModel& model) {
#ifdef AKIDB_WITH_OPENVINO
  OpenVinoEngineConfig config;
  static_cast<GraphConfig&>(config) = graph_config(model);
  config.threads = o.threads;
  return std::make_unique<OpenVinoEngine>(std::move(config));
#else
  throw Error(ErrorCode::Unavailable,
              "this build has no OpenVINO engine (run `make setup-openvino`, then rebuild)");
#endif
}

PipelineParts start(const std::string& device, const ProviderOptions& o) {
  auto model =
      LoadedModel::load(o.model_dir, o.variant.empty() ? default_variant(device) : o.variant);
  std::unique_ptr<InferenceEngine> engine;
  if (device == "cuda") {
    engine = start_cuda(o, model);
  } else if (device == "openvino") {
    engine = start_openvino(o, model);
  } else {
    engine = start_cpu(o, model);
  }
  return {std::move(model), std::move(engine)};
}

// OpenVINO is worth choosing over the CPU engine only on an Intel GPU.
std::string openvino_gpu_absent() {
#ifdef AKIDB_WITH_OPENVINO
  try {
    if (openvino_device() == "GPU") return {};
    return "OpenVINO sees no Intel GPU";
  } catch (const std::exception& e) {
    return std::string("OpenVINO cannot start: ") + e.what();
  }
#else
  return "this build has no OpenVINO engine";
#endif
}

}  // namespace

std::optional<StartedEngine> start_accelerator(const ProviderOptions& o, std::string& why) {
  try {
    return StartedEngine{{"cuda", "auto chose cuda: a CUDA GPU is present"}, start("cuda", o)};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Unavailable) throw;
    why = std::string("cuda: ") + e.what();
  }
  if (auto absent = openvino_gpu_absent(); !absent.empty()) {
    why += "; openvino: " + absent;
    return std::nullopt;
  }
  try {
    return StartedEngine{{"openvino", "auto chose openvino: an Intel GPU is present; " + why},
                         start("openvino", o)};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Unavailable) throw;
    why += std::string("; openvino: ") + e.what();
  }
  return std::nullopt;
}

namespace {

StartedEngine start_auto(const ProviderOptions& o) {
  std::string why;
  if (auto accelerator = start_accelerator(o, why)) return std::move(*accelerator);
  return {{"cpu", "auto chose cpu (ONNX Runtime): " + why}, start("cpu", o)};
}

}  // namespace

std::string default_variant(const std::string& device) {
  return device == "openvino" ? std::string{"fp32"} : std::string{};
}

StartedEngine start_device(const ProviderOptions& o) {
  const auto& device = o.device;
  const auto known = available_devices();
  if (std::find(known.begin(), known.end(), device) == known.end())
    throw invalid_request("unknown device '" + device + "' (cpu, cuda, openvino or auto)");
  if (device == "auto") return start_auto(o);
  try {
    return {{device, "asked for with --device " + device}, start(device, o)};
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Unavailable) throw;
    throw Error(ErrorCode::Unavailable,
                "device " + device + " cannot start: " + e.what() + "; use --device cpu (or auto)");
  }
}

}  // namespace devices
}  // namespace akidb::embed
