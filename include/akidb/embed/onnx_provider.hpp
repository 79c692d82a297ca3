#pragma once
// The pipeline over the ONNX Runtime CPU engine, on one model directory.
// (make_provider() in factory.hpp builds this or any other engine from one
// options struct; this class is for C++ users who want ONNX Runtime only.)
#include <cstddef>
#include <filesystem>
#include <string>

#include "akidb/embed/pipeline.hpp"

namespace akidb::embed {

enum class GraphOptimization { Disabled, Basic, Extended, All };

struct OnnxProviderOptions {
  std::filesystem::path model_dir;
  std::string variant;         // a key of the manifest's variants; empty: its default_variant
  int intra_op_threads = 0;    // 0: ONNX Runtime's default (all cores)
  bool allow_spinning = true;  // intra-op thread spinning
  GraphOptimization optimization = GraphOptimization::All;
  std::size_t fixed_padding = 0;  // 0: dynamic padding; else pad every batch to this length
  std::string profile_prefix;     // non-empty: ONNX Runtime profiling to this prefix
  PipelineOptions pipeline;
};

class OnnxProvider final : public EmbeddingPipeline {
 public:
  // Loads the model directory. Throws Error(ModelError) naming the file.
  explicit OnnxProvider(const OnnxProviderOptions& options);

  // Ends ONNX Runtime profiling (see profile_prefix) and returns the JSON file.
  std::string end_profiling();
};

// The ONNX Runtime release the library runs, e.g. "1.29.0".
std::string onnxruntime_version();

}  // namespace akidb::embed
