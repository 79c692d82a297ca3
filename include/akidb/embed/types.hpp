#pragma once
// Request and response types of the EmbeddingProvider contract.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace akidb::embed {

using TokenIds = std::vector<std::int32_t>;

// Which end of an over-long input truncation drops: Right keeps the start of
// the text, Left keeps its end (the special tokens stay in both cases).
enum class TruncationDirection { Right, Left };

struct EmbedRequest {
  // Either texts or pre-tokenized ids (without [CLS]/[SEP]; they are added).
  std::variant<std::vector<std::string>, std::vector<TokenIds>> inputs;
  // Over-long input is truncated to the model's max tokens when true; when
  // false it is an InvalidInput error.
  bool truncate = true;
  // L2-normalize the pooled vectors; unset: as the model does (its
  // manifest's `normalize`, true when the sentence-transformers folder has a
  // Normalize module).
  std::optional<bool> normalize;
  // Keep the first `dimensions` values of each vector (re-normalized when
  // `normalize`); 0 keeps the model's full dimension.
  std::size_t dimensions = 0;
  // One of the model's named prompts (its manifest's `prompts`), prepended
  // to every text as sentence-transformers' encode(prompt_name=...) does;
  // unset: the model's default_prompt_name, if it has one. Unknown names are
  // an InvalidInput error that lists the known ones.
  std::optional<std::string> prompt_name;
  // A literal prompt instead of a named one (sentence-transformers'
  // encode(prompt=...)); "" turns the default prompt off. Not with prompt_name.
  std::optional<std::string> prompt;
  TruncationDirection truncation_direction = TruncationDirection::Right;

  std::size_t size() const noexcept;
  static EmbedRequest from_texts(std::vector<std::string> texts);
};

// Per-stage wall time of one embed_batch call, in microseconds.
struct StageTimings {
  double tokenize_us = 0;
  double queue_us = 0;  // admitted to first scheduled (0 outside the scheduler)
  double tensor_us = 0;
  double inference_us = 0;
  double pool_us = 0;
  double normalize_us = 0;
  double total_us = 0;
};

struct Usage {
  std::size_t prompt_tokens = 0;          // sum over inputs, after truncation
  std::vector<std::size_t> input_tokens;  // per input, after truncation ([CLS]/[SEP] included)
  double wall_ms = 0;
  StageTimings stages;
};

// Row-major matrix of embeddings: rows() vectors of dimension() floats.
class Embeddings {
 public:
  Embeddings() = default;
  Embeddings(std::size_t rows, std::size_t dimension)
      : rows_(rows), dimension_(dimension), data_(rows * dimension) {}

  std::size_t rows() const noexcept { return rows_; }
  std::size_t dimension() const noexcept { return dimension_; }
  std::span<float> row(std::size_t i) noexcept {
    return {data_.data() + i * dimension_, dimension_};
  }
  std::span<const float> row(std::size_t i) const noexcept {
    return {data_.data() + i * dimension_, dimension_};
  }
  std::span<const float> data() const noexcept { return data_; }
  std::span<float> data() noexcept { return data_; }

 private:
  std::size_t rows_ = 0;
  std::size_t dimension_ = 0;
  std::vector<float> data_;
};

struct EmbedResponse {
  Embeddings embeddings;  // row i belongs to request input i
  Usage usage;
};

struct ModelInfo {
  std::string model;               // e.g. "all-MiniLM-L6-v2"
  std::size_t dimension = 0;       // 384
  std::size_t max_tokens = 0;      // 256, [CLS]/[SEP] included
  std::string backend;             // the engine: "onnx", "native" or "python"
  std::string execution_provider;  // e.g. "CPUExecutionProvider"
  std::string variant;             // e.g. "fp32", "int8"
  std::string device = "cpu";      // where inference runs
  std::string pooling = "mean";    // the manifest's: mean, cls, max or mean_sqrt_len
  // "engine": the engine's graph pools on its device (only pooled vectors
  // come back); "host": the pipeline pools the hidden states.
  std::string pooled_on = "host";
};

struct HealthStatus {
  bool ok = false;
  std::string message;  // why not ok; empty when ok
};

}  // namespace akidb::embed
