#pragma once
// The in-process provider: tokenizer + ONNX Runtime + pooling, on one model
// directory.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "akidb/embed/manifest.hpp"
#include "akidb/embed/provider.hpp"
#include "akidb/embed/tokenizer.hpp"

namespace akidb::embed {

enum class GraphOptimization { Disabled, Basic, Extended, All };

struct OnnxProviderOptions {
  std::filesystem::path model_dir;
  std::string variant;         // a key of the manifest's variants; empty: its default_variant
  int intra_op_threads = 0;    // 0: ONNX Runtime's default (all cores)
  bool allow_spinning = true;  // intra-op thread spinning
  GraphOptimization optimization = GraphOptimization::All;
  std::size_t fixed_padding = 0;  // 0: dynamic padding; else pad every batch to this length
  bool sort_by_length = true;     // bucket large batches by token length
  // Padded tokens per inference sub-batch inside one call. Small sub-batches
  // keep activations in cache: on the 2-core dev machine 512 gave 1,220-1,410
  // sentences/s at batch 256 against 550-620 with 16,384 (make bench-all).
  std::size_t max_batch_tokens = 512;
  std::size_t parallel_tokenize_min = 64;  // tokenize in parallel from this many inputs
  std::string profile_prefix;              // non-empty: ONNX Runtime profiling to this prefix
};

class OnnxProvider final : public EmbeddingProvider {
 public:
  // Loads the model directory. Throws Error(ModelError) naming the file.
  explicit OnnxProvider(OnnxProviderOptions options);
  ~OnnxProvider() override;

  EmbedResponse embed_batch(const EmbedRequest& request) override;
  ModelInfo model_info() const override;
  HealthStatus health_check() override;

  const ModelManifest& manifest() const noexcept;
  const Tokenizer& tokenizer() const noexcept;
  // Ends ONNX Runtime profiling (see profile_prefix) and returns the JSON file.
  std::string end_profiling();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
