#include "akidb/embed/engine.hpp"

#include "akidb/embed/error.hpp"

namespace akidb::embed {

void InferenceEngine::run_pooled(const SequenceBatch&, std::span<float>) {
  throw Error(ErrorCode::Internal, "engine " + capabilities().name + " does not pool");
}

}  // namespace akidb::embed
