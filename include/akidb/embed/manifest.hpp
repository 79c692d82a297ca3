#pragma once
// The model directory's manifest (akidb.json).
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace akidb::embed {

// sentence-transformers' Pooling modes: mean of the tokens, the first ([CLS])
// token, the per-dimension max, and the sum divided by sqrt(token count).
enum class Pooling { Mean, Cls, Max, MeanSqrtLen };

// The manifest's name of a pooling mode: "mean", "cls", "max", "mean_sqrt_len".
const char* pooling_name(Pooling pooling) noexcept;

// A graph output with the pooled, not normalized, vector of each input
// ([batch, dim]; python/akidb_embed/gpu_graphs.py adds one), and the pooling
// it computes over every token of an input.
struct PooledOutput {
  std::string name;  // "sentence_embedding"
  Pooling pooling = Pooling::Mean;
};

struct ModelManifest {
  std::string name;                // "all-MiniLM-L6-v2"
  std::size_t dimension = 0;       // 384
  std::size_t max_seq_length = 0;  // 256 tokens, [CLS]/[SEP] included
  Pooling pooling = Pooling::Mean;
  // false: mean, max and mean-sqrt-len pooling skip the prompt's tokens
  // ([CLS] and the prompt; sentence-transformers' include_prompt).
  bool include_prompt = true;
  bool normalize = true;
  // Named prompts prepended to the text (config_sentence_transformers.json),
  // and the one used when a request names none.
  std::map<std::string, std::string> prompts;
  std::optional<std::string> default_prompt_name;
  std::vector<std::string> inputs;  // graph inputs: input_ids, attention_mask, token_type_ids
  std::string output;               // graph output with [batch, seq, dim] hidden states
  std::map<std::string, std::string> variants;  // "fp32" -> "model.onnx", "int8" -> ...
  // The variant used when none is asked for: the fastest one that is exact.
  std::string default_variant = "fp32";
  std::string tokenizer = "tokenizer.json";
  // The engines the directory has files for: "onnx" (model*.onnx), "native"
  // (model.safetensors + config.json of a family it runs). Manifests written
  // before the native engine list none: {"onnx"}.
  std::vector<std::string> engines = {"onnx"};
  // Variants whose output for a text depends on the rest of its batch (dynamic
  // int8 quantization scales activations over the whole batch); the provider
  // runs such a variant one input at a time.
  std::vector<std::string> batch_dependent_variants;
  // Variants whose graph also has a pooled output (variant_details'
  // "pooled_output" and "pooling").
  std::map<std::string, PooledOutput> pooled_outputs;

  bool batch_invariant(const std::string& variant) const;

  // The model file of a variant; throws ModelError naming akidb.json if unknown.
  std::filesystem::path model_file(const std::filesystem::path& dir,
                                   const std::string& variant) const;
};

// Reads <dir>/akidb.json. Throws Error(ModelError) naming the file.
ModelManifest load_manifest(const std::filesystem::path& model_dir);

}  // namespace akidb::embed
