#include "engines/cuda/cuda_engine.hpp"

#include <algorithm>
#include <array>

#include "akidb/embed/error.hpp"
#include "core/workspace_pool.hpp"
#include "engines/cuda/ort_gpu_api.hpp"
#include "engines/padded_inputs.hpp"

namespace akidb::embed {
namespace {

using cuda::OrtGpuApi;
using cuda::OrtPtr;

// Padded host tensors of one run and the binding that feeds them.
struct Workspace : PaddedInputs {
  std::vector<float> hidden;  // [b, seq, dim] hidden states or [b, dim] pooled
  OrtPtr<OrtIoBinding> binding{nullptr, [](OrtIoBinding*) {}};
};

template <class T>
OrtPtr<T> own(T* p, void (*release)(T*)) {
  return OrtPtr<T>(p, [release](T* q) {
    if (q != nullptr) release(q);
  });
}

}  // namespace

struct CudaEngine::Impl {
  CudaEngineConfig config;
  OrtGpuApi gpu;
  const OrtApi& api;
  OrtPtr<OrtEnv> env{nullptr, [](OrtEnv*) {}};
  OrtPtr<OrtSession> session{nullptr, [](OrtSession*) {}};
  OrtPtr<OrtMemoryInfo> host{nullptr, [](OrtMemoryInfo*) {}};
  std::vector<std::string> inputs;  // graph inputs we feed, in the graph's order
  EngineCapabilities caps;
  WorkspacePool<Workspace> pool;

  explicit Impl(CudaEngineConfig c)
      : config(std::move(c)), gpu(config.runtime_dir, config.use_cuda), api(gpu.api()) {
    create_session();
    check_graph();
    caps = {"onnx",
            "cuda",
            config.use_cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider",
            config.dimension,
            config.max_batch_tokens,
            true,
            config.batch_invariant};
    if (!config.use_cuda) caps.device = "cpu";
    if (config.pooled) caps.pooling = config.pooled->pooling;
  }

  void create_session();
  OrtPtr<OrtSessionOptions> session_options();
  void check_graph();
  std::vector<std::string> names(bool of_inputs);
  void bind(Workspace& ws, std::size_t b, std::size_t seq, bool pooled);
  // Pads, binds and runs the batch into ws.hidden (hidden states or pooled).
  void run_bound(const SequenceBatch& batch, Workspace& ws, bool pooled);
};

OrtPtr<OrtSessionOptions> CudaEngine::Impl::session_options() {
  OrtSessionOptions* raw = nullptr;
  gpu.check(api.CreateSessionOptions(&raw), "session options", false);
  auto options = own(raw, api.ReleaseSessionOptions);
  gpu.check(api.SetSessionGraphOptimizationLevel(raw, ORT_ENABLE_ALL), "session options", false);
  if (!config.use_cuda) return options;
  OrtCUDAProviderOptionsV2* cuda_raw = nullptr;
  gpu.check(api.CreateCUDAProviderOptions(&cuda_raw), "CUDA provider options", true);
  auto cuda = own(cuda_raw, api.ReleaseCUDAProviderOptions);
  const std::string device = std::to_string(config.device_id);
  // No cuDNN convolution search (a BERT has no convolutions); TF32 stays off
  // so fp32 results match the CPU's to cos >= 0.9999.
  const std::array<const char*, 3> keys{"device_id", "cudnn_conv_algo_search", "use_tf32"};
  const std::array<const char*, 3> values{device.c_str(), "HEURISTIC", "0"};
  gpu.check(api.UpdateCUDAProviderOptions(cuda_raw, keys.data(), values.data(), keys.size()),
            "CUDA provider options", true);
  gpu.check(api.SessionOptionsAppendExecutionProvider_CUDA_V2(raw, cuda_raw),
            "cannot start the CUDA execution provider", true);
  return options;
}

void CudaEngine::Impl::create_session() {
  OrtEnv* env_raw = nullptr;
  gpu.check(api.CreateEnv(ORT_LOGGING_LEVEL_WARNING, "akidb-embed-cuda", &env_raw), "ONNX Runtime",
            false);
  env = own(env_raw, api.ReleaseEnv);
  if (OrtStatus* status = api.DisableTelemetryEvents(env_raw)) api.ReleaseStatus(status);
  auto options = session_options();
  const auto& file = config.model_file;
  if (!std::filesystem::exists(file)) throw model_error(file.string(), "model file not found");
  OrtSession* raw = nullptr;
  if (OrtStatus* status = api.CreateSession(env_raw, file.c_str(), options.get(), &raw)) {
    std::string message = api.GetErrorMessage(status);
    api.ReleaseStatus(status);
    throw Error(ErrorCode::Unavailable, "cannot load " + file.string() + " on " +
                                            (config.use_cuda ? "CUDA" : "the CPU") + ": " +
                                            message);
  }
  session = own(raw, api.ReleaseSession);
  OrtMemoryInfo* host_raw = nullptr;
  gpu.check(api.CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &host_raw), "memory",
            false);
  host = own(host_raw, api.ReleaseMemoryInfo);
}

std::vector<std::string> CudaEngine::Impl::names(bool of_inputs) {
  OrtAllocator* allocator = nullptr;
  gpu.check(api.GetAllocatorWithDefaultOptions(&allocator), "allocator", false);
  std::size_t count = 0;
  gpu.check(of_inputs ? api.SessionGetInputCount(session.get(), &count)
                      : api.SessionGetOutputCount(session.get(), &count),
            "graph", false);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < count; ++i) {
    char* name = nullptr;
    gpu.check(of_inputs ? api.SessionGetInputName(session.get(), i, allocator, &name)
                        : api.SessionGetOutputName(session.get(), i, allocator, &name),
              "graph", false);
    out.emplace_back(name);
    gpu.check(api.AllocatorFree(allocator, name), "allocator", false);
  }
  return out;
}

void CudaEngine::Impl::check_graph() {
  const auto file = config.model_file.string();
  inputs = names(true);
  for (const auto& name : inputs) {
    if (std::find(config.inputs.begin(), config.inputs.end(), name) == config.inputs.end())
      throw model_error(file, "graph input '" + name + "' is not in the manifest");
  }
  const auto outs = names(false);
  if (std::find(outs.begin(), outs.end(), config.output) == outs.end())
    throw model_error(file, "graph has no output '" + config.output + "'");
  if (config.pooled && std::find(outs.begin(), outs.end(), config.pooled->name) == outs.end())
    throw model_error(file, "graph has no pooled output '" + config.pooled->name + "'");
}

// Binds the host tensors (ONNX Runtime copies them to the device) and the
// host output buffer (it copies the result back into it, once): the hidden
// states, or only the pooled output ([b, dim], seq times fewer floats; the
// hidden states are then not an output of the run and stay on the device).
void CudaEngine::Impl::bind(Workspace& ws, std::size_t b, std::size_t seq, bool pooled) {
  if (!ws.binding) {
    OrtIoBinding* raw = nullptr;
    gpu.check(api.CreateIoBinding(session.get(), &raw), "IoBinding", true);
    ws.binding = own(raw, api.ReleaseIoBinding);
  }
  api.ClearBoundInputs(ws.binding.get());
  api.ClearBoundOutputs(ws.binding.get());
  const std::array<std::int64_t, 2> in_shape{static_cast<std::int64_t>(b),
                                             static_cast<std::int64_t>(seq)};
  for (const auto& name : inputs) {
    auto& data = name == "input_ids" ? ws.ids : name == "attention_mask" ? ws.mask : ws.type_ids;
    OrtValue* value = nullptr;
    gpu.check(api.CreateTensorWithDataAsOrtValue(host.get(), data.data(), data.size() * 8,
                                                 in_shape.data(), 2,
                                                 ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, &value),
              "input tensor", false);
    auto owned = own(value, api.ReleaseValue);
    gpu.check(api.BindInput(ws.binding.get(), name.c_str(), value), "IoBinding", true);
  }
  const auto dim = static_cast<std::int64_t>(config.dimension);
  const std::array<std::int64_t, 3> hidden_shape{in_shape[0], in_shape[1], dim};
  const std::array<std::int64_t, 2> pooled_shape{in_shape[0], dim};
  OrtValue* out = nullptr;
  gpu.check(
      api.CreateTensorWithDataAsOrtValue(host.get(), ws.hidden.data(), ws.hidden.size() * 4,
                                         pooled ? pooled_shape.data() : hidden_shape.data(),
                                         pooled ? 2 : 3, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &out),
      "output tensor", false);
  auto owned = own(out, api.ReleaseValue);
  const std::string& name = pooled ? config.pooled->name : config.output;
  gpu.check(api.BindOutput(ws.binding.get(), name.c_str(), out), "IoBinding", true);
}

void CudaEngine::Impl::run_bound(const SequenceBatch& batch, Workspace& ws, bool pooled) {
  const std::size_t b = batch.size(), seq = batch.longest();
  ws.fill(batch, seq, config.pad_id);
  ws.hidden.resize(b * (pooled ? 1 : seq) * config.dimension);
  bind(ws, b, seq, pooled);
  gpu.check(api.RunWithBinding(session.get(), nullptr, ws.binding.get()),
            caps.device + " inference failed", true);
}

CudaEngine::CudaEngine(CudaEngineConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

CudaEngine::~CudaEngine() = default;

const EngineCapabilities& CudaEngine::capabilities() const noexcept { return impl_->caps; }

void CudaEngine::run(const SequenceBatch& batch, std::span<float> hidden) {
  const std::size_t b = batch.size(), dim = impl_->config.dimension, seq = batch.longest();
  if (b == 0) return;
  auto ws = impl_->pool.take();
  impl_->run_bound(batch, *ws, false);
  for (std::size_t k = 0; k < b; ++k) {
    const float* from = ws->hidden.data() + k * seq * dim;
    std::copy_n(from, batch.length(k) * dim,
                hidden.begin() + static_cast<std::ptrdiff_t>(batch.offsets[k] * dim));
  }
}

void CudaEngine::run_pooled(const SequenceBatch& batch, std::span<float> pooled) {
  if (!impl_->config.pooled) InferenceEngine::run_pooled(batch, pooled);  // throws
  if (batch.size() == 0) return;
  auto ws = impl_->pool.take();
  impl_->run_bound(batch, *ws, true);
  std::copy(ws->hidden.begin(), ws->hidden.end(), pooled.begin());
}

}  // namespace akidb::embed
