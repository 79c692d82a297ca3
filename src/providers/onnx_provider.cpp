#include "akidb/embed/onnx_provider.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <exception>
#include <thread>

#include "akidb/embed/error.hpp"
#include "akidb/embed/pooling.hpp"
#include "providers/batch_plan.hpp"
#include "providers/workspace_pool.hpp"
#include "runtime/ort_session.hpp"

namespace akidb::embed {
namespace {

using Clock = std::chrono::steady_clock;

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

struct Workspace {
  std::vector<Encoding> encodings;
  std::vector<std::size_t> lengths;
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> mask;
  std::vector<std::int64_t> type_ids;
  std::vector<float> hidden;
};

runtime::SessionConfig session_config(const OnnxProviderOptions& options) {
  return {options.intra_op_threads, options.allow_spinning, options.optimization,
          options.profile_prefix};
}

Tokenizer load_tokenizer(const std::filesystem::path& dir, const ModelManifest& manifest) {
  return Tokenizer::from_file(dir / manifest.tokenizer);
}

}  // namespace

struct OnnxProvider::Impl {
  OnnxProviderOptions options;
  ModelManifest manifest;
  std::string variant;
  bool batch_invariant;
  Tokenizer tokenizer;
  std::filesystem::path model_file;
  runtime::Session session;
  std::vector<std::string> inputs;  // graph inputs we feed, in manifest order
  WorkspacePool<Workspace> pool;
  // Threads for parallel tokenization (hardware_concurrency reads /sys: once).
  std::size_t tokenize_workers = std::min<std::size_t>(std::thread::hardware_concurrency(), 8);

  explicit Impl(OnnxProviderOptions opts)
      : options(std::move(opts)),
        manifest(load_manifest(options.model_dir)),
        variant(options.variant.empty() ? manifest.default_variant : options.variant),
        batch_invariant(manifest.batch_invariant(variant)),
        tokenizer(load_tokenizer(options.model_dir, manifest)),
        model_file(manifest.model_file(options.model_dir, variant)),
        session(model_file, session_config(options)) {
    check_graph();
  }

  void check_graph();
  void tokenize(const EmbedRequest& request, Workspace& ws) const;
  void tokenize_range(const EmbedRequest& request, Workspace& ws, std::size_t begin,
                      std::size_t end) const;
  void encode_one(const EmbedRequest& request, std::size_t i, Encoding& enc) const;
  void encode_ids(const TokenIds& ids, std::size_t i, Encoding& enc) const;
  void run_sub_batch(const SubBatch& batch, Workspace& ws, const EmbedRequest& request,
                     EmbedResponse& response) const;
};

void OnnxProvider::Impl::check_graph() {
  const auto& graph_inputs = session.input_names();
  for (const auto& name : graph_inputs) {
    if (std::find(manifest.inputs.begin(), manifest.inputs.end(), name) == manifest.inputs.end())
      throw model_error(model_file.string(), "graph input '" + name + "' is not in the manifest");
  }
  inputs = graph_inputs;
  const auto& outs = session.output_names();
  if (std::find(outs.begin(), outs.end(), manifest.output) == outs.end())
    throw model_error(model_file.string(), "graph has no output '" + manifest.output + "'");
  const auto dim = session.output_last_dim(manifest.output);
  if (dim > 0 && static_cast<std::size_t>(dim) != manifest.dimension) {
    throw model_error(model_file.string(), "output dimension " + std::to_string(dim) +
                                               " disagrees with the manifest's dimension " +
                                               std::to_string(manifest.dimension));
  }
}

void OnnxProvider::Impl::encode_ids(const TokenIds& ids, std::size_t i, Encoding& enc) const {
  const auto vocab = static_cast<std::int64_t>(tokenizer.vocab_size());
  enc.clear();
  enc.ids.push_back(tokenizer.cls_id());
  const std::size_t keep = std::min(ids.size(), manifest.max_seq_length - 2);
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] < 0 || ids[k] >= vocab) {
      throw invalid_input(i, "token id " + std::to_string(ids[k]) +
                                 " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
    if (k < keep) enc.ids.push_back(ids[k]);
  }
  enc.ids.push_back(tokenizer.sep_id());
  enc.type_ids.assign(enc.ids.size(), 0);
  enc.tokens_before_truncation = ids.size() + 2;
}

void OnnxProvider::Impl::encode_one(const EmbedRequest& request, std::size_t i,
                                    Encoding& enc) const {
  if (const auto* texts = std::get_if<std::vector<std::string>>(&request.inputs)) {
    const std::string& text = (*texts)[i];
    if (auto bad = find_invalid_utf8(text)) {
      throw invalid_input(i, "invalid UTF-8 at byte " + std::to_string(*bad));
    }
    tokenizer.encode(text, enc, {manifest.max_seq_length, true, false});
  } else {
    encode_ids(std::get<std::vector<TokenIds>>(request.inputs)[i], i, enc);
  }
  if (!request.truncate && enc.tokens_before_truncation > manifest.max_seq_length) {
    throw invalid_input(i, "input has " + std::to_string(enc.tokens_before_truncation) +
                               " tokens, more than the model's maximum of " +
                               std::to_string(manifest.max_seq_length));
  }
}

void OnnxProvider::Impl::tokenize_range(const EmbedRequest& request, Workspace& ws,
                                        std::size_t begin, std::size_t end) const {
  for (std::size_t i = begin; i < end; ++i) {
    encode_one(request, i, ws.encodings[i]);
    ws.lengths[i] = ws.encodings[i].ids.size();
  }
}

void OnnxProvider::Impl::tokenize(const EmbedRequest& request, Workspace& ws) const {
  const std::size_t n = request.size();
  if (ws.encodings.size() < n) ws.encodings.resize(n);
  ws.lengths.assign(n, 0);
  const std::size_t workers = tokenize_workers;
  if (n < options.parallel_tokenize_min || workers < 2) {
    tokenize_range(request, ws, 0, n);
    return;
  }
  // Parallel tokenization: contiguous chunks; the first error by input index wins.
  std::vector<std::exception_ptr> errors(workers);
  {
    std::vector<std::jthread> threads;
    const std::size_t chunk = (n + workers - 1) / workers;
    for (std::size_t w = 0; w < workers; ++w) {
      const std::size_t begin = w * chunk, end = std::min(n, begin + chunk);
      if (begin >= end) break;
      threads.emplace_back([&, w, begin, end] {
        try {
          tokenize_range(request, ws, begin, end);
        } catch (...) {
          errors[w] = std::current_exception();
        }
      });
    }
  }
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

void OnnxProvider::Impl::run_sub_batch(const SubBatch& batch, Workspace& ws,
                                       const EmbedRequest& request, EmbedResponse& response) const {
  auto& stages = response.usage.stages;
  const std::size_t b = batch.members.size(), s = batch.seq_len, dim = manifest.dimension;
  auto start = Clock::now();
  ws.ids.assign(b * s, tokenizer.pad_id());
  ws.mask.assign(b * s, 0);
  ws.type_ids.assign(b * s, 0);
  for (std::size_t k = 0; k < b; ++k) {
    const Encoding& enc = ws.encodings[batch.members[k]];
    const std::size_t len = std::min(enc.ids.size(), s);
    std::copy_n(enc.ids.begin(), len, ws.ids.begin() + static_cast<std::ptrdiff_t>(k * s));
    std::copy_n(enc.type_ids.begin(), len,
                ws.type_ids.begin() + static_cast<std::ptrdiff_t>(k * s));
    std::fill_n(ws.mask.begin() + static_cast<std::ptrdiff_t>(k * s), len, 1);
  }
  ws.hidden.resize(b * s * dim);
  std::array<runtime::InputTensor, runtime::kMaxInputs> tensors;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const auto& name = inputs[i];
    auto& data = name == "input_ids" ? ws.ids : name == "attention_mask" ? ws.mask : ws.type_ids;
    tensors[i] = {name.c_str(), data};
  }
  stages.tensor_us += micros_since(start);

  start = Clock::now();
  session.run(std::span(tensors.data(), inputs.size()), static_cast<std::int64_t>(b),
              static_cast<std::int64_t>(s), manifest.output, ws.hidden,
              static_cast<std::int64_t>(dim));
  stages.inference_us += micros_since(start);

  start = Clock::now();
  for (std::size_t k = 0; k < b; ++k) {
    float* out = response.embeddings.row(batch.members[k]).data();
    const float* hidden = ws.hidden.data() + k * s * dim;
    if (manifest.pooling == Pooling::Cls) {
      std::copy_n(hidden, dim, out);
    } else {
      mean_pool(hidden, ws.mask.data() + k * s, s, dim, out);
    }
  }
  stages.pool_us += micros_since(start);

  start = Clock::now();
  if (request.normalize) {
    for (std::size_t k = 0; k < b; ++k) {
      l2_normalize(response.embeddings.row(batch.members[k]).data(), dim);
    }
  }
  stages.normalize_us += micros_since(start);
}

OnnxProvider::OnnxProvider(OnnxProviderOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

OnnxProvider::~OnnxProvider() = default;

EmbedResponse OnnxProvider::embed_batch(const EmbedRequest& request) {
  const auto start = Clock::now();
  const std::size_t n = request.size();
  if (n == 0) throw invalid_request("the request has no inputs: send at least one");
  auto ws = impl_->pool.take();
  EmbedResponse response;
  impl_->tokenize(request, *ws);
  response.usage.stages.tokenize_us = micros_since(start);

  response.embeddings = Embeddings(n, impl_->manifest.dimension);
  const auto& opts = impl_->options;
  const auto lengths = std::span<const std::size_t>(ws->lengths.data(), n);
  for (const auto& batch :
       plan_batches(lengths, {opts.sort_by_length, opts.max_batch_tokens, opts.fixed_padding,
                              impl_->batch_invariant ? std::size_t{0} : std::size_t{1}})) {
    impl_->run_sub_batch(batch, *ws, request, response);
  }
  response.usage.input_tokens.assign(lengths.begin(), lengths.end());
  for (std::size_t len : lengths) response.usage.prompt_tokens += len;
  response.usage.stages.total_us = micros_since(start);
  response.usage.wall_ms = response.usage.stages.total_us / 1000.0;
  return response;
}

ModelInfo OnnxProvider::model_info() const {
  return {impl_->manifest.name,           impl_->manifest.dimension,
          impl_->manifest.max_seq_length, "onnx",
          "CPUExecutionProvider",         impl_->variant};
}

HealthStatus OnnxProvider::health_check() {
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

const ModelManifest& OnnxProvider::manifest() const noexcept { return impl_->manifest; }
const Tokenizer& OnnxProvider::tokenizer() const noexcept { return impl_->tokenizer; }
std::string OnnxProvider::end_profiling() { return impl_->session.end_profiling(); }

}  // namespace akidb::embed
