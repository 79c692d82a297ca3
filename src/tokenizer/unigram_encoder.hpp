#pragma once
// encode() for Unigram tokenizers: added tokens, normalizers, Metaspace,
// Viterbi, byte fallback, post-processor specials and offset trimming.
#include <cstddef>
#include <string_view>

#include "akidb/embed/tokenizer.hpp"
#include "tokenizer/tokenizer_impl.hpp"

namespace akidb::embed {

// `t.unigram` must be set; `text` is valid UTF-8; keeps at most `limit`
// content tokens.
void encode_unigram(const TokenizerData& t, std::string_view text, Encoding& out, std::size_t limit,
                    bool with_offsets);

}  // namespace akidb::embed
