#pragma once
// OpenVINO as an InferenceEngine: the OpenVINO runtime (PyPI `openvino`
// wheel, C++ API) reads the model's ONNX graph with dynamic batch and
// sequence axes, compiles it once per process for one OpenVINO device (an
// Intel GPU where present, else the CPU), and runs it through a pool of infer
// requests, one per concurrent run(). Padded like the ONNX Runtime engine.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "akidb/embed/engine.hpp"
#include "engines/graph_config.hpp"

namespace akidb::embed {

struct OpenVinoEngineConfig : GraphConfig {
  int threads = 0;     // 0: OpenVINO's default (all cores)
  std::string device;  // OpenVINO device name; empty: openvino_device()
};

class OpenVinoEngine final : public InferenceEngine {
 public:
  // Throws Error(ModelError) naming the file for a graph OpenVINO cannot
  // read, Error(Unavailable) when the device cannot compile it.
  explicit OpenVinoEngine(OpenVinoEngineConfig config);
  ~OpenVinoEngine() override;

  const EngineCapabilities& capabilities() const noexcept override;
  void run(const SequenceBatch& batch, std::span<float> hidden) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The OpenVINO devices present ("CPU", "GPU", "NPU", ...).
std::vector<std::string> openvino_devices();
// The device the engine picks by default: "GPU" (an Intel GPU) when present,
// else "CPU". (NPUs need static shapes; not used.)
std::string openvino_device();
// e.g. "2026.4.1-22982-..."
std::string openvino_version();

}  // namespace akidb::embed
