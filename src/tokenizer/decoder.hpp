#pragma once
// Ids back to text with tokenizer.json's decoder (Tokenizer::decode).
#include <cstdint>
#include <span>
#include <string>

#include "tokenizer/tokenizer_impl.hpp"

namespace akidb::embed {

bool is_special_token(const TokenizerData& t, std::int32_t id) noexcept;
std::string decode_ids(const TokenizerData& t, std::span<const std::int32_t> ids,
                       bool skip_special_tokens);

}  // namespace akidb::embed
