#pragma once
// One options struct, one factory: every backend the library has, for the
// CLI, the server and C++ users alike.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "akidb/embed/device.hpp"
#include "akidb/embed/onnx_provider.hpp"
#include "akidb/embed/pipeline.hpp"
#include "akidb/embed/provider.hpp"
#include "akidb/embed/python_bridge_provider.hpp"

namespace akidb::embed {

struct ProviderOptions {
  std::filesystem::path model_dir;
  // One of available_engines(): auto (the default: the native engine on a
  // CPU where the model has its files and the variant is one it runs, else
  // ONNX Runtime; docs/native-engine.md), onnx, native, python.
  std::string engine = "auto";
  std::string variant;  // a key of the manifest's variants; empty: its default
  int threads = 0;      // 0: all cores
  // Where inference runs (device.hpp, docs/devices.md): "cpu" (default),
  // "cuda" (ONNX Runtime's CUDA EP), "openvino" (the OpenVINO engine), "auto".
  std::string device = "cpu";
  // The on-demand CUDA runtime (`make setup-cuda`); empty: the build tree's
  // third_party/onnxruntime-cuda.
  std::filesystem::path cuda_dir;
  // Told once which device was chosen and why (the CLI logs it).
  std::function<void(const DeviceChoice&)> on_device;
  // Test hook: the device fails on this engine run (1: the first), the way
  // a CUDA error would: Error(Unavailable) and an unhealthy provider. 0: never.
  std::size_t inject_device_failure_after = 0;
  // Test hook: this batch run (embed_sequences; 1: the first) never returns,
  // the way a hung engine does (the scheduler's watchdog, docs/server.md). 0: never.
  std::size_t inject_hang_after = 0;
  PipelineOptions pipeline;
  // ONNX Runtime
  bool allow_spinning = true;
  GraphOptimization optimization = GraphOptimization::All;
  std::size_t fixed_padding = 0;
  std::string profile_prefix;
  // The native engine: "auto", "avx2" or "avx512" (empty: $AKIDB_NATIVE_ISA, else auto)
  std::string isa;
  // The native engine's packed-weights cache: "on" or "off" (empty:
  // $AKIDB_NATIVE_CACHE, else on). docs/native-engine.md
  std::string native_cache;
  // The Python bridge
  std::size_t workers = 1;
  std::filesystem::path python;
  BridgeFraming framing = BridgeFraming::Binary;
};

// The engines make_provider() knows: {"auto", "onnx", "native", "python"}.
std::vector<std::string> available_engines();

// Loads the model on the chosen engine and device. Throws Error(InvalidInput)
// for an unknown engine or device, Error(ModelError) naming the file for a bad
// model, Error(Unavailable) with one line saying why for a device that
// cannot start.
std::unique_ptr<EmbeddingProvider> make_provider(const ProviderOptions& options);

}  // namespace akidb::embed
