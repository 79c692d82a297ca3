#pragma once
// What every engine that runs the model's ONNX graph (ONNX Runtime on the
// CPU, its CUDA provider, OpenVINO) is told about the graph.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "akidb/embed/pipeline.hpp"

namespace akidb::embed {

struct GraphConfig {
  std::filesystem::path model_file;
  std::vector<std::string> inputs;  // graph inputs the manifest allows
  std::string output;               // [batch, seq, dim] hidden states
  // The graph's [batch, dim] pooled output, when it has one, and its pooling.
  std::optional<PooledOutput> pooled;
  std::size_t dimension = 0;
  std::int32_t pad_id = 0;
  bool batch_invariant = true;
};

// The graph of a loaded model's variant, from its manifest and tokenizer.
GraphConfig graph_config(const LoadedModel& model);

}  // namespace akidb::embed
