#pragma once
// The encoder's shape, from a Hugging Face config.json of the BERT family:
// BERT, XLM-RoBERTa / RoBERTa and MPNet.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string_view>

namespace akidb::embed::native {

// What differs between the families (transformers' modeling_*.py):
//   Bert:    positions 0..len-1, token type embeddings.
//   Roberta: positions pad_token_id + 1 + t for real tokens and pad_token_id
//            for pad tokens (create_position_ids_from_input_ids), token types.
//   MPNet:   positions as Roberta (padding_idx fixed at 1), no token types,
//            a relative position bias on every layer's attention scores.
enum class Family { Bert, Roberta, MPNet };

struct BertConfig {
  Family family = Family::Bert;
  std::size_t hidden_size = 0;
  std::size_t num_layers = 0;
  std::size_t num_heads = 0;
  std::size_t intermediate_size = 0;
  std::size_t max_position_embeddings = 0;
  std::size_t type_vocab_size = 0;
  std::size_t vocab_size = 0;
  float layer_norm_eps = 1e-12f;
  std::int32_t pad_token_id = 0;               // Roberta and MPNet positions
  std::size_t relative_attention_buckets = 0;  // MPNet only

  bool offset_positions() const noexcept { return family != Family::Bert; }
  // Tokens a sequence may hold: the last position id must stay in the table.
  std::size_t max_tokens() const noexcept {
    const std::size_t offset = offset_positions() ? static_cast<std::size_t>(pad_token_id) + 1 : 0;
    return max_position_embeddings > offset ? max_position_embeddings - offset : 0;
  }

  std::size_t head_dim() const noexcept { return hidden_size / num_heads; }
};

// Throws Error(ModelError) naming the file for a missing or invalid field, a
// model type other than bert / xlm-roberta / roberta / mpnet, or a hidden_act
// other than gelu.
BertConfig load_bert_config(const std::filesystem::path& path);
BertConfig parse_bert_config(std::string_view json, const std::string& origin);

}  // namespace akidb::embed::native
