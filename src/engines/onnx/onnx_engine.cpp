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
    if (config.pooled) caps.pooling = config.pooled->pooling;
  }

  void check_graph();
  // Pads the batch and runs the graph into ws.hidden: the hidden states
  // ([b, seq, dim]) or the pooled output ([b, dim]).
  std::size_t run_padded(const SequenceBatch& batch, Workspace& ws, bool pooled);
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
  if (config.pooled && std::find(outs.begin(), outs.end(), config.pooled->name) == outs.end())
    throw model_error(file.string(), "graph has no pooled output '" + config.pooled->name + "'");
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

std::size_t OnnxEngine::Impl::run_padded(const SequenceBatch& batch, Workspace& ws, bool pooled) {
  const std::size_t b = batch.size(), dim = config.dimension;
  const std::size_t seq = std::max(batch.longest(), config.fixed_padding);
  ws.fill(batch, seq, config.pad_id);
  ws.hidden.resize(b * (pooled ? 1 : seq) * dim);
  std::array<runtime::InputTensor, runtime::kMaxInputs> tensors;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& name = inputs[i];
    auto& data = name == "input_ids" ? ws.ids : name == "attention_mask" ? ws.mask : ws.type_ids;
    tensors[i] = {name.c_str(), data};
  }
  const auto b64 = static_cast<std::int64_t>(b), seq64 = static_cast<std::int64_t>(seq),
             dim64 = static_cast<std::int64_t>(dim);
  const std::array<std::int64_t, 3> hidden_shape{b64, seq64, dim64};
  const std::array<std::int64_t, 2> pooled_shape{b64, dim64};
  session.run(std::span(tensors.data(), inputs.size()), b64, seq64,
              pooled ? config.pooled->name : config.output, ws.hidden,
              pooled ? std::span<const std::int64_t>(pooled_shape)
                     : std::span<const std::int64_t>(hidden_shape));
  return seq;
}

void OnnxEngine::run(const SequenceBatch& batch, std::span<float> hidden) {
  const std::size_t b = batch.size(), dim = impl_->config.dimension;
  if (b == 0) return;
  auto ws = impl_->pool.take();
  const std::size_t seq = impl_->run_padded(batch, *ws, false);
  for (std::size_t k = 0; k < b; ++k) {
    const float* from = ws->hidden.data() + k * seq * dim;
    std::copy_n(from, batch.length(k) * dim,
                hidden.begin() + static_cast<std::ptrdiff_t>(batch.offsets[k] * dim));
  }
}

void OnnxEngine::run_pooled(const SequenceBatch& batch, std::span<float> pooled) {
  if (!impl_->config.pooled) InferenceEngine::run_pooled(batch, pooled);  // throws
  if (batch.size() == 0) return;
  auto ws = impl_->pool.take();
  impl_->run_padded(batch, *ws, true);
  std::copy(ws->hidden.begin(), ws->hidden.end(), pooled.begin());
}

std::string OnnxEngine::end_profiling() { return impl_->session.end_profiling(); }

}  // namespace akidb::embed
