#include "engines/openvino/openvino_engine.hpp"

#include <algorithm>
#include <openvino/openvino.hpp>

#include "akidb/embed/error.hpp"
#include "core/workspace_pool.hpp"
#include "engines/padded_inputs.hpp"

namespace akidb::embed {
namespace {

// Padded tensors of one run and the infer request that runs them.
struct Workspace : PaddedInputs {
  std::optional<ov::InferRequest> request;
};

// Padded tokens per run: the same cache-friendly size as ONNX Runtime's CPU
// engine (BENCHMARKS.md, "sub-batch budget"); a GPU takes more.
std::size_t preferred_tokens(const std::string& device) { return device == "CPU" ? 512 : 8192; }

}  // namespace

struct OpenVinoEngine::Impl {
  OpenVinoEngineConfig config;
  ov::Core core;
  ov::CompiledModel compiled;
  std::vector<std::string> inputs;  // graph inputs we feed
  EngineCapabilities caps;
  WorkspacePool<Workspace> pool;

  explicit Impl(OpenVinoEngineConfig c) : config(std::move(c)) {
    if (config.device.empty()) config.device = openvino_device();
    auto model = read();
    compile(model);
    caps = {"openvino",
            "openvino",
            "OpenVINO/" + config.device,
            config.dimension,
            preferred_tokens(config.device),
            true,
            config.batch_invariant};
  }

  std::shared_ptr<ov::Model> read();
  void compile(const std::shared_ptr<ov::Model>& model);
};

std::shared_ptr<ov::Model> OpenVinoEngine::Impl::read() {
  const auto file = config.model_file.string();
  if (!std::filesystem::exists(config.model_file)) throw model_error(file, "model file not found");
  std::shared_ptr<ov::Model> model;
  try {
    model = core.read_model(file);
  } catch (const std::exception& e) {
    throw model_error(file, std::string("OpenVINO cannot read the graph: ") + e.what());
  }
  for (const auto& port : model->inputs()) {
    const auto& name = port.get_any_name();
    if (std::find(config.inputs.begin(), config.inputs.end(), name) == config.inputs.end())
      throw model_error(file, "graph input '" + name + "' is not in the manifest");
    inputs.push_back(name);
  }
  const auto& outs = model->outputs();
  if (std::none_of(outs.begin(), outs.end(),
                   [&](const auto& port) { return port.get_names().count(config.output) > 0; }))
    throw model_error(file, "graph has no output '" + config.output + "'");
  return model;
}

void OpenVinoEngine::Impl::compile(const std::shared_ptr<ov::Model>& model) {
  ov::AnyMap properties{ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY),
                        // fp32 on every device: the golden parity needs it (no bf16/fp16 hints)
                        ov::hint::inference_precision(ov::element::f32)};
  if (config.threads > 0) properties.emplace(ov::inference_num_threads(config.threads));
  try {
    compiled = core.compile_model(model, config.device, properties);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::Unavailable,
                "OpenVINO cannot compile the model for " + config.device + ": " + e.what());
  }
}

OpenVinoEngine::OpenVinoEngine(OpenVinoEngineConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

OpenVinoEngine::~OpenVinoEngine() = default;

const EngineCapabilities& OpenVinoEngine::capabilities() const noexcept { return impl_->caps; }

void OpenVinoEngine::run(const SequenceBatch& batch, std::span<float> hidden) {
  const std::size_t b = batch.size(), dim = impl_->config.dimension, seq = batch.longest();
  if (b == 0) return;
  auto ws = impl_->pool.take();
  ws->fill(batch, seq, impl_->config.pad_id);
  try {
    if (!ws->request) ws->request = impl_->compiled.create_infer_request();
    const ov::Shape shape{b, seq};
    for (const auto& name : impl_->inputs) {
      auto& data = name == "input_ids"        ? ws->ids
                   : name == "attention_mask" ? ws->mask
                                              : ws->type_ids;
      ws->request->set_tensor(name, ov::Tensor(ov::element::i64, shape, data.data()));
    }
    ws->request->infer();
    const ov::Tensor out = ws->request->get_tensor(impl_->config.output);
    const float* data = out.data<const float>();
    for (std::size_t k = 0; k < b; ++k) {
      std::copy_n(data + k * seq * dim, batch.length(k) * dim,
                  hidden.begin() + static_cast<std::ptrdiff_t>(batch.offsets[k] * dim));
    }
  } catch (const ov::Exception& e) {
    throw Error(ErrorCode::Unavailable, std::string("OpenVINO inference failed: ") + e.what());
  }
}

std::vector<std::string> openvino_devices() { return ov::Core().get_available_devices(); }

std::string openvino_device() {
  const auto devices = openvino_devices();
  return std::find(devices.begin(), devices.end(), "GPU") != devices.end() ? "GPU" : "CPU";
}

std::string openvino_version() { return ov::get_openvino_version().buildNumber; }

}  // namespace akidb::embed
