#pragma once
// Thin RAII layer over ONNX Runtime's official C++ API: one Session owns its
// environment, options and session, and runs int64 inputs into a caller-owned
// float output buffer (no ONNX Runtime allocation for inputs or outputs).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "akidb/embed/onnx_provider.hpp"

namespace akidb::embed::runtime {

struct SessionConfig {
  int intra_op_threads = 0;
  bool allow_spinning = true;
  GraphOptimization optimization = GraphOptimization::All;
  std::string profile_prefix;  // non-empty: write an ONNX Runtime profile
};

// BERT graphs take at most input_ids, attention_mask and token_type_ids.
inline constexpr std::size_t kMaxInputs = 3;

// One named int64 input tensor of shape [batch, seq]. The name points at a
// string the caller keeps alive (no copy per run).
struct InputTensor {
  const char* name = nullptr;
  std::span<std::int64_t> data;
};

class Session {
 public:
  // Throws Error(ModelError) naming the model file when it cannot be loaded.
  Session(const std::filesystem::path& model_file, const SessionConfig& config);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::vector<std::string>& input_names() const noexcept;
  const std::vector<std::string>& output_names() const noexcept;
  // The static size of the output's last axis, or -1 when it is dynamic.
  std::int64_t output_last_dim(const std::string& output) const;

  // Runs the graph on at most kMaxInputs [batch, seq] inputs into one
  // output of shape `out_shape` ([batch, seq, dim] hidden states or a
  // [batch, dim] pooled output); `output` holds its floats. Thread-safe;
  // allocates nothing for I/O.
  void run(std::span<const InputTensor> inputs, std::int64_t batch, std::int64_t seq,
           const std::string& output_name, std::span<float> output,
           std::span<const std::int64_t> out_shape) const;

  // Ends profiling (if enabled) and returns the profile file path.
  std::string end_profiling();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string onnxruntime_version();

}  // namespace akidb::embed::runtime
