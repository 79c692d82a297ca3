#include "engines/onnx/onnx_engine.hpp"

#include <algorithm>
#include <array>

#include "akidb/embed/error.hpp"
#include "core/workspace_pool.hpp"
#include "engines/padded_inputs.hpp"

namespace akidb::embed {
namespace {

// Padded int64 tensors and the padded output of one run.
struct Workspace : PaddedInputs {
  std::vector<float> hidden;
};

// Padded tokens per run that keep activations in cache: on the 2-core dev
// machine 512 gave 1,220-1,410 sentences/s at batch 256 against 550-620
// with 16,384 (BENCHMARKS.md, "sub-batch budget").
constexpr std::size_t kPreferredBatchTokens = 512;

}  // namespace

struct OnnxEngine::Impl {
  OnnxEngineConfig config;
  runtime::Session session;
  std::vector<std::string> inputs;  // graph inputs we feed, in the graph's order
  EngineCapabilities caps;
  WorkspacePool<Workspace> pool;

  explicit Impl(OnnxEngineConfig c)
      : config(std::move(c)), session(config.model_file, config.session) {
    check_graph();
    caps = {"onnx",
            "cpu",
            "CPUExecutionProvider",
            config.dimension,
            kPreferredBatchTokens,
            true,
            config.batch_invariant};
  }

  void check_graph();
};

void OnnxEngine::Impl::check_graph() {
  const auto& file = config.model_file;
  for (const auto& name : session.input_names()) {
    if (std::find(config.inputs.begin(), config.inputs.end(), name) == config.inputs.end())
      throw model_error(file.string(), "graph input '" + name + "' is not in the manifest");
  }
  inputs = session.input_names();
  const auto& outs = session.output_names();
  if (std::find(outs.begin(), outs.end(), config.output) == outs.end())
    throw model_error(file.string(), "graph has no output '" + config.output + "'");
  const auto dim = session.output_last_dim(config.output);
  if (dim > 0 && static_cast<std::size_t>(dim) != config.dimension) {
    throw model_error(file.string(), "output dimension " + std::to_string(dim) +
                                         " disagrees with the manifest's dimension " +
                                         std::to_string(config.dimension));
  }
}

OnnxEngine::OnnxEngine(OnnxEngineConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

OnnxEngine::~OnnxEngine() = default;

const EngineCapabilities& OnnxEngine::capabilities() const noexcept { return impl_->caps; }

void OnnxEngine::run(const SequenceBatch& batch, std::span<float> hidden) {
  const std::size_t b = batch.size(), dim = impl_->config.dimension;
  const std::size_t seq = std::max(batch.longest(), impl_->config.fixed_padding);
  if (b == 0) return;
  auto ws = impl_->pool.take();
  ws->fill(batch, seq, impl_->config.pad_id);
  ws->hidden.resize(b * seq * dim);
  std::array<runtime::InputTensor, runtime::kMaxInputs> tensors;
  for (std::size_t i = 0; i < impl_->inputs.size(); ++i) {
    const auto& name = impl_->inputs[i];
    auto& data = name == "input_ids" ? ws->ids : name == "attention_mask" ? ws->mask : ws->type_ids;
    tensors[i] = {name.c_str(), data};
  }
  impl_->session.run(std::span(tensors.data(), impl_->inputs.size()), static_cast<std::int64_t>(b),
                     static_cast<std::int64_t>(seq), impl_->config.output, ws->hidden,
                     static_cast<std::int64_t>(dim));
  for (std::size_t k = 0; k < b; ++k) {
    const float* from = ws->hidden.data() + k * seq * dim;
    std::copy_n(from, batch.length(k) * dim,
                hidden.begin() + static_cast<std::ptrdiff_t>(batch.offsets[k] * dim));
  }
}

std::string OnnxEngine::end_profiling() { return impl_->session.end_profiling(); }

}  // namespace akidb::embed
