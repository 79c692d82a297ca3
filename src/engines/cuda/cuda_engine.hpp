#pragma once
// ONNX Runtime's CUDA execution provider as an InferenceEngine: the GPU build
// of ONNX Runtime (OrtGpuApi) runs the graph on one GPU, inputs and outputs
// go through IoBinding, and every failure of a run is a device failure
// (Error(Unavailable) with the device's message).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "akidb/embed/engine.hpp"
#include "engines/graph_config.hpp"

namespace akidb::embed {

struct CudaEngineConfig : GraphConfig {
  std::filesystem::path runtime_dir;  // `make setup-cuda`'s directory
  int device_id = 0;
  // false: the GPU build on its own CPU execution provider. Only for tests
  // of the loading and binding on a machine without a GPU.
  bool use_cuda = true;
  // Padded tokens per run; a GPU wants large batches.
  std::size_t max_batch_tokens = 16384;
};

class CudaEngine final : public InferenceEngine {
 public:
  // Throws Error(Unavailable) when the GPU build, its libraries or the
  // device cannot start, Error(ModelError) naming the file for a bad graph.
  explicit CudaEngine(CudaEngineConfig config);
  ~CudaEngine() override;

  const EngineCapabilities& capabilities() const noexcept override;
  void run(const SequenceBatch& batch, std::span<float> hidden) override;
  // The graph's pooled output (GraphConfig::pooled): [b, dim] floats copied back.
  void run_pooled(const SequenceBatch& batch, std::span<float> pooled) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
