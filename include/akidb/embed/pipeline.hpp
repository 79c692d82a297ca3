#pragma once
// EmbeddingPipeline: the one place for validation, tokenization, length
// planning, pooling, normalization, dimensions and usage, on top of any
// InferenceEngine. It is the EmbeddingProvider of every in-process engine.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "akidb/embed/engine.hpp"
#include "akidb/embed/manifest.hpp"
#include "akidb/embed/provider.hpp"
#include "akidb/embed/tokenizer.hpp"

namespace akidb::embed {

struct PipelineOptions {
  // Tokens per engine run within one embed_batch() call; 0: the engine's
  // preferred max_batch_tokens. (The server's scheduler has its own budget,
  // SchedulerOptions::max_batch_tokens, for batches across requests.)
  std::size_t max_inference_tokens = 0;
  bool sort_by_length = true;              // bucket large batches by token length
  std::size_t parallel_tokenize_min = 64;  // tokenize in parallel from this many inputs
};

// A loaded model: what the pipeline needs besides its engine.
struct LoadedModel {
  std::filesystem::path dir;
  ModelManifest manifest;
  std::string variant;  // the manifest variant the engine runs
  Tokenizer tokenizer;

  // Reads <dir>/akidb.json and its tokenizer; an empty variant means the
  // manifest's default. Throws Error(ModelError) naming the file.
  static LoadedModel load(const std::filesystem::path& dir, const std::string& variant);
};

// A model and the engine that runs it.
struct PipelineParts {
  LoadedModel model;
  std::unique_ptr<InferenceEngine> engine;
};

class EmbeddingPipeline : public EmbeddingProvider {
 public:
  // Throws Error(ModelError) when the engine's hidden size disagrees with
  // the manifest's dimension.
  EmbeddingPipeline(PipelineParts parts, PipelineOptions options);
  ~EmbeddingPipeline() override;

  EmbedResponse embed_batch(const EmbedRequest& request) override;
  ModelInfo model_info() const override;
  HealthStatus health_check() override;
  HealthStatus device_status() const override;
  AdmittedRequest admit(const EmbedRequest& request) const override;
  void embed_sequences(std::span<const SequenceRef> batch, StageTimings& stages) override;
  BatchingHints batching_hints() const override;
  const Tokenizer& tokenizer() const override;

  // The encoder's last hidden state of every token of every input ([CLS]
  // and [SEP] included, not pooled, not normalized): sentence-transformers'
  // output_value="token_embeddings". Admits like embed_batch() (same
  // errors); runs on the calling thread, in batches as embed_batch() does.
  std::vector<Embeddings> token_embeddings(const EmbedRequest& request);

  const ModelManifest& manifest() const noexcept;
  InferenceEngine& engine() noexcept;
  // True when the engine pools (its graph's pooled output is the model's
  // pooling over every token): the pipeline then only normalizes.
  bool pools_in_engine() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
