#pragma once
// The InferenceEngine contract: what a new backend implements. An engine runs
// the encoder on token sequences and returns per-token hidden states; the
// EmbeddingPipeline above it owns validation, tokenization, planning, pooling,
// normalization and usage accounting, so an engine never sees text. An engine
// whose graph pools (capabilities().pooling) can also return pooled vectors
// (run_pooled), which the pipeline then uses instead of pooling itself.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "akidb/embed/manifest.hpp"
#include "akidb/embed/types.hpp"

namespace akidb::embed {

// A batch of token sequences, packed: sequence i is tokens
// [offsets[i], offsets[i + 1]) of ids and type_ids ([CLS]/[SEP] included).
struct SequenceBatch {
  std::span<const std::int32_t> ids;
  std::span<const std::int32_t> type_ids;
  std::span<const std::uint32_t> offsets;  // size() + 1 entries; offsets[0] == 0

  std::size_t size() const noexcept { return offsets.empty() ? 0 : offsets.size() - 1; }
  std::size_t tokens() const noexcept { return offsets.empty() ? 0 : offsets.back(); }
  std::size_t length(std::size_t i) const noexcept { return offsets[i + 1] - offsets[i]; }
  std::size_t longest() const noexcept {
    std::size_t longest = 0;
    for (std::size_t i = 0; i < size(); ++i) longest = longest > length(i) ? longest : length(i);
    return longest;
  }
};

// What an engine is and what it supports; constant for the engine's life.
struct EngineCapabilities {
  std::string name;                // "onnxruntime", "native", ...
  std::string device = "cpu";      // "cpu", "cuda", ...
  std::string execution_provider;  // e.g. "CPUExecutionProvider"
  std::size_t hidden_size = 0;     // floats per token in run()'s output
  // Tokens per run() the engine is fastest with; the pipeline splits larger
  // batches. For a padded engine this counts padded tokens (longest * size).
  std::size_t max_batch_tokens = 512;
  // true: a batch costs longest * size (the engine pads); false: it costs
  // tokens() (packed, variable-length sequences).
  bool padded = true;
  // true: a sequence's output does not depend on its batch-mates (up to
  // float rounding across different padded shapes). false: the pipeline runs
  // one sequence per run() (dynamic per-tensor int8 quantization).
  bool batch_invariant = true;
  // Set: run_pooled() returns each sequence's vector pooled this way over
  // all its tokens (not normalized), computed on the engine's device, so
  // only [batch, hidden_size] floats come back instead of [tokens, ...].
  std::optional<Pooling> pooling = std::nullopt;
};

class InferenceEngine {
 public:
  virtual ~InferenceEngine() = default;
  virtual const EngineCapabilities& capabilities() const noexcept = 0;

  // Last hidden states of every token, packed like the input: row
  // offsets[i] + t of `hidden` ([batch.tokens(), hidden_size] floats) is
  // token t of sequence i. Thread-safe. Throws akidb::embed::Error.
  virtual void run(const SequenceBatch& batch, std::span<float> hidden) = 0;

  // Only when capabilities().pooling is set: row i of `pooled`
  // ([batch.size(), hidden_size] floats) is sequence i pooled over all its
  // tokens, not normalized. Thread-safe. Throws akidb::embed::Error; the
  // default throws Error(Internal) (the engine does not pool).
  virtual void run_pooled(const SequenceBatch& batch, std::span<float> pooled);

  // The device's state: not ok once it failed at run time (the message says
  // how). Cheap; never runs the model.
  virtual HealthStatus device_status() const { return {true, {}}; }

  InferenceEngine() = default;
  InferenceEngine(const InferenceEngine&) = delete;
  InferenceEngine& operator=(const InferenceEngine&) = delete;
};

}  // namespace akidb::embed
