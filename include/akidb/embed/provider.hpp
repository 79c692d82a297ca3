#pragma once
// The EmbeddingProvider contract: every backend (in-process ONNX, Python
// bridge, ...) implements it, and the batcher and server only see this.
#include "akidb/embed/types.hpp"

namespace akidb::embed {

class EmbeddingProvider {
 public:
  virtual ~EmbeddingProvider() = default;

  // Embeds 1..N inputs. Throws akidb::embed::Error on failure. Thread-safe.
  virtual EmbedResponse embed_batch(const EmbedRequest& request) = 0;
  virtual ModelInfo model_info() const = 0;
  // A real probe (embeds a short text); never a constant.
  virtual HealthStatus health_check() = 0;

  EmbeddingProvider() = default;
  EmbeddingProvider(const EmbeddingProvider&) = delete;
  EmbeddingProvider& operator=(const EmbeddingProvider&) = delete;
};

}  // namespace akidb::embed
