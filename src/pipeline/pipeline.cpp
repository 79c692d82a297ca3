#include "akidb/embed/pipeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "akidb/embed/error.hpp"
#include "akidb/embed/pooling.hpp"
#include "core/workspace_pool.hpp"
#include "pipeline/batch_plan.hpp"

namespace akidb::embed {
namespace {

using Clock = std::chrono::steady_clock;

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// Packed engine input and output of one embed_sequences() call.
struct Workspace {
  std::vector<std::int32_t> ids;
  std::vector<std::int32_t> type_ids;
  std::vector<std::uint32_t> offsets;
  std::vector<float> hidden;      // [tokens, dim], or [sequences, dim] from an engine that pools
  std::vector<SequenceRef> refs;  // embed_batch's sub-batch
};

void pack(std::span<const SequenceRef> batch, Workspace& ws) {
  ws.ids.clear();
  ws.type_ids.clear();
  ws.offsets.assign(1, 0);
  for (const auto& ref : batch) {
    const Encoding& enc = ref.encoding();
    ws.ids.insert(ws.ids.end(), enc.ids.begin(), enc.ids.end());
    ws.type_ids.insert(ws.type_ids.end(), enc.type_ids.begin(), enc.type_ids.end());
    ws.type_ids.resize(ws.ids.size(), 0);
    ws.offsets.push_back(static_cast<std::uint32_t>(ws.ids.size()));
  }
}

}  // namespace

LoadedModel LoadedModel::load(const std::filesystem::path& dir, const std::string& variant) {
  auto manifest = load_manifest(dir);
  std::string chosen = variant.empty() ? manifest.default_variant : variant;
  manifest.model_file(dir, chosen);  // throws ModelError for an unknown variant
  auto tokenizer = Tokenizer::from_file(dir / manifest.tokenizer);
  return {dir, std::move(manifest), std::move(chosen), std::move(tokenizer)};
}

struct EmbeddingPipeline::Impl {
  LoadedModel model;
  std::unique_ptr<InferenceEngine> engine;
  PipelineOptions options;
  Admission admission;
  WorkspacePool<Workspace> workspaces;
  bool engine_pools = false;  // the engine's run_pooled() gives what pool() would

  Impl(LoadedModel m, std::unique_ptr<InferenceEngine> e, PipelineOptions o)
      : model(std::move(m)),
        engine(std::move(e)),
        options(o),
        admission(model.tokenizer, {model.manifest.max_seq_length, model.manifest.dimension,
                                    options.parallel_tokenize_min, model.manifest.normalize,
                                    model.manifest.prompts, model.manifest.default_prompt_name}) {
    const auto hidden = engine->capabilities().hidden_size;
    if (hidden != model.manifest.dimension) {
      throw model_error((model.dir / "akidb.json").string(),
                        "dimension " + std::to_string(model.manifest.dimension) +
                            " disagrees with the engine's hidden size " + std::to_string(hidden));
    }
    // A pooling that skips the prompt needs each input's prompt length,
    // which the graph does not have: the host pools then.
    const auto& pooling = engine->capabilities().pooling;
    engine_pools = pooling && *pooling == model.manifest.pooling && model.manifest.include_prompt;
  }

  void run(std::span<const SequenceRef> batch, StageTimings& stages);
  void pool_on_host(std::span<const SequenceRef> batch, const Workspace& ws) const;
};

// One engine run over `batch`, then pooling and normalization into each ref's row.
void EmbeddingPipeline::Impl::run(std::span<const SequenceRef> batch, StageTimings& stages) {
  auto ws = workspaces.take();
  const std::size_t dim = model.manifest.dimension;
  auto start = Clock::now();
  pack(batch, *ws);
  ws->hidden.resize((engine_pools ? batch.size() : ws->ids.size()) * dim);
  stages.tensor_us += micros_since(start);

  start = Clock::now();
  const SequenceBatch sequences{ws->ids, ws->type_ids, ws->offsets};
  if (engine_pools) {
    engine->run_pooled(sequences, ws->hidden);
  } else {
    engine->run(sequences, ws->hidden);
  }
  stages.inference_us += micros_since(start);

  start = Clock::now();
  if (engine_pools) {
    for (std::size_t k = 0; k < batch.size(); ++k)
      std::copy_n(ws->hidden.data() + k * dim, dim, batch[k].out);
  } else {
    pool_on_host(batch, *ws);
  }
  stages.pool_us += micros_since(start);

  start = Clock::now();
  for (const auto& ref : batch) {
    if (ref.request->normalize) l2_normalize(ref.out, dim);
  }
  stages.normalize_us += micros_since(start);
}

void EmbeddingPipeline::Impl::pool_on_host(std::span<const SequenceRef> batch,
                                           const Workspace& ws) const {
  const auto& manifest = model.manifest;
  const std::size_t dim = manifest.dimension;
  for (std::size_t k = 0; k < batch.size(); ++k) {
    const float* rows = ws.hidden.data() + std::size_t{ws.offsets[k]} * dim;
    const std::size_t skip = manifest.include_prompt ? 0 : batch[k].request->prompt_length;
    pool(manifest.pooling, rows, ws.offsets[k + 1] - ws.offsets[k], dim, batch[k].out, skip);
  }
}

EmbeddingPipeline::EmbeddingPipeline(PipelineParts parts, PipelineOptions options)
    : impl_(std::make_unique<Impl>(std::move(parts.model), std::move(parts.engine), options)) {}

EmbeddingPipeline::~EmbeddingPipeline() = default;

AdmittedRequest EmbeddingPipeline::admit(const EmbedRequest& request) const {
  return impl_->admission.admit(request);
}

void EmbeddingPipeline::embed_sequences(std::span<const SequenceRef> batch, StageTimings& stages) {
  if (impl_->engine->capabilities().batch_invariant) {
    impl_->run(batch, stages);
    return;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) impl_->run(batch.subspan(i, 1), stages);
}

EmbedResponse EmbeddingPipeline::embed_batch(const EmbedRequest& request) {
  const auto start = Clock::now();
  const auto admitted = admit(request);
  const std::size_t n = admitted.size();
  Embeddings vectors(n, impl_->model.manifest.dimension);
  std::vector<std::size_t> lengths(n);
  for (std::size_t i = 0; i < n; ++i) lengths[i] = admitted.encodings[i].ids.size();
  const auto hints = batching_hints();
  const std::size_t budget = impl_->options.max_inference_tokens
                                 ? impl_->options.max_inference_tokens
                                 : hints.max_batch_tokens;
  StageTimings stages;
  std::vector<SequenceRef> refs;
  const BatchPlanOptions plan{impl_->options.sort_by_length, budget, 0,
                              hints.batch_invariant ? std::size_t{0} : std::size_t{1},
                              hints.padded};
  for (const auto& sub : plan_batches(lengths, plan)) {
    refs.clear();
    for (auto i : sub.members) refs.push_back({&admitted, i, vectors.row(i).data()});
    embed_sequences(refs, stages);
  }
  stages.total_us = micros_since(start);
  return make_response(admitted, std::move(vectors), stages);
}

std::vector<Embeddings> EmbeddingPipeline::token_embeddings(const EmbedRequest& request) {
  const auto admitted = admit(request);
  const std::size_t n = admitted.size(), dim = impl_->model.manifest.dimension;
  std::vector<std::size_t> lengths(n);
  for (std::size_t i = 0; i < n; ++i) lengths[i] = admitted.encodings[i].ids.size();
  const auto hints = batching_hints();
  const BatchPlanOptions plan{true, hints.max_batch_tokens, 0,
                              hints.batch_invariant ? std::size_t{0} : std::size_t{1},
                              hints.padded};
  std::vector<Embeddings> out(n);
  std::vector<SequenceRef> refs;
  auto ws = impl_->workspaces.take();
  for (const auto& sub : plan_batches(lengths, plan)) {
    refs.clear();
    for (auto i : sub.members) refs.push_back({&admitted, i, nullptr});
    pack(refs, *ws);
    ws->hidden.resize(ws->ids.size() * dim);
    impl_->engine->run({ws->ids, ws->type_ids, ws->offsets}, ws->hidden);
    for (std::size_t k = 0; k < refs.size(); ++k) {
      Embeddings tokens(ws->offsets[k + 1] - ws->offsets[k], dim);
      const auto first = ws->hidden.begin() + static_cast<std::ptrdiff_t>(ws->offsets[k] * dim);
      std::copy(first, first + static_cast<std::ptrdiff_t>(tokens.data().size()),
                tokens.data().begin());
      out[refs[k].index] = std::move(tokens);
    }
  }
  return out;
}

ModelInfo EmbeddingPipeline::model_info() const {
  const auto& caps = impl_->engine->capabilities();
  const auto& m = impl_->model.manifest;
  return {m.name,
          m.dimension,
          m.max_seq_length,
          caps.name,
          caps.execution_provider,
          impl_->model.variant,
          caps.device,
          pooling_name(m.pooling),
          impl_->engine_pools ? "engine" : "host"};
}

HealthStatus EmbeddingPipeline::device_status() const { return impl_->engine->device_status(); }

HealthStatus EmbeddingPipeline::health_check() {
  if (auto device = device_status(); !device.ok) return device;
  try {
    auto response = embed_batch(EmbedRequest::from_texts({"health check"}));
    const auto row = response.embeddings.row(0);
    if (!std::all_of(row.begin(), row.end(), [](float x) { return std::isfinite(x); }))
      return {false, "the probe embedding has non-finite values"};
    return {true, {}};
  } catch (const std::exception& e) {
    return {false, e.what()};
  }
}

BatchingHints EmbeddingPipeline::batching_hints() const {
  const auto& caps = impl_->engine->capabilities();
  return {caps.max_batch_tokens, caps.padded, caps.batch_invariant};
}

const Tokenizer& EmbeddingPipeline::tokenizer() const { return impl_->model.tokenizer; }
const ModelManifest& EmbeddingPipeline::manifest() const noexcept { return impl_->model.manifest; }
InferenceEngine& EmbeddingPipeline::engine() noexcept { return *impl_->engine; }
bool EmbeddingPipeline::pools_in_engine() const noexcept { return impl_->engine_pools; }

}  // namespace akidb::embed
