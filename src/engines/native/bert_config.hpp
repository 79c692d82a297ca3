#pragma once
// The encoder's shape, from a Hugging Face BERT config.json.
#include <cstddef>
#include <filesystem>
#include <string_view>

namespace akidb::embed::native {

struct BertConfig {
  std::size_t hidden_size = 0;
  std::size_t num_layers = 0;
  std::size_t num_heads = 0;
  std::size_t intermediate_size = 0;
  std::size_t max_position_embeddings = 0;
  std::size_t type_vocab_size = 0;
  std::size_t vocab_size = 0;
  float layer_norm_eps = 1e-12f;

  std::size_t head_dim() const noexcept { return hidden_size / num_heads; }
};

// Throws Error(ModelError) naming the file for a missing or invalid field, a
// model type other than bert, or a hidden_act other than gelu.
BertConfig load_bert_config(const std::filesystem::path& path);
BertConfig parse_bert_config(std::string_view json, const std::string& origin);

}  // namespace akidb::embed::native
