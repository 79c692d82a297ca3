#pragma once
// The EmbeddingProvider contract: every backend (the pipeline over an
// in-process engine, the Python bridge, ...) implements it, and the
// scheduler and server only see this.
#include <cstddef>
#include <span>

#include "akidb/embed/admission.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "akidb/embed/types.hpp"

namespace akidb::embed {

// How a scheduler should form batches for this provider.
struct BatchingHints {
  // Tokens per embed_sequences() call the backend is fastest with; padded
  // tokens (longest * count) when `padded`, else real tokens.
  std::size_t max_batch_tokens = 512;
  bool padded = true;
  // false: a vector depends on its batch-mates, so batches hold one sequence.
  bool batch_invariant = true;
};

class EmbeddingProvider {
 public:
  virtual ~EmbeddingProvider() = default;

  // Embeds 1..N inputs. Throws akidb::embed::Error on failure. Thread-safe.
  virtual EmbedResponse embed_batch(const EmbedRequest& request) = 0;
  virtual ModelInfo model_info() const = 0;
  // A real probe (embeds a short text); never a constant.
  virtual HealthStatus health_check() = 0;
  // The device's state without running the model: not ok once the device
  // failed at run time (docs/devices.md). For /health on every call.
  virtual HealthStatus device_status() const { return {true, {}}; }

  // The scheduling seam. admit() validates and tokenizes a request once
  // (Error(InvalidInput) naming the input); embed_sequences() embeds any mix
  // of admitted requests' inputs, writing each vector (full dimension,
  // normalized when its request asks) to its SequenceRef::out. Thread-safe.
  virtual AdmittedRequest admit(const EmbedRequest& request) const = 0;
  virtual void embed_sequences(std::span<const SequenceRef> batch, StageTimings& stages) = 0;
  virtual BatchingHints batching_hints() const = 0;
  // The model's tokenizer (for /tokenize, on every backend).
  virtual const Tokenizer& tokenizer() const = 0;

  EmbeddingProvider() = default;
  EmbeddingProvider(const EmbeddingProvider&) = delete;
  EmbeddingProvider& operator=(const EmbeddingProvider&) = delete;
};

}  // namespace akidb::embed
