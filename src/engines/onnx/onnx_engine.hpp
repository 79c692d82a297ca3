#pragma once
// ONNX Runtime on the CPU as an InferenceEngine: packed sequences are padded
// to the batch's longest, run through the graph, and the real tokens' hidden
// states copied back out packed.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "akidb/embed/engine.hpp"
#include "akidb/embed/manifest.hpp"
#include "engines/graph_config.hpp"
#include "runtime/ort_session.hpp"

namespace akidb::embed {

struct OnnxEngineConfig : GraphConfig {
  std::size_t fixed_padding = 0;  // 0: pad to the batch's longest; else to this length
  runtime::SessionConfig session;
};

class OnnxEngine final : public InferenceEngine {
 public:
  // Loads the graph and checks it against the config. Throws Error(ModelError)
  // naming the model file.
  explicit OnnxEngine(OnnxEngineConfig config);
  ~OnnxEngine() override;

  const EngineCapabilities& capabilities() const noexcept override;
  void run(const SequenceBatch& batch, std::span<float> hidden) override;
  // The graph's pooled output (GraphConfig::pooled), without unpadding.
  void run_pooled(const SequenceBatch& batch, std::span<float> pooled) override;

  // Ends ONNX Runtime profiling (SessionConfig::profile_prefix) and returns the file.
  std::string end_profiling();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
