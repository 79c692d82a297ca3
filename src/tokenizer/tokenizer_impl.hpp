#pragma once
// The loaded tokenizer: settings from tokenizer.json in the shape encode() needs.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "akidb/embed/tokenizer.hpp"
#include "tokenizer/unigram_pipeline.hpp"
#include "tokenizer/vocab.hpp"

namespace akidb::embed {

struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  bool lstrip = false;   // the match takes the whitespace before it
  bool rstrip = false;   // ... and after it
  bool special = false;  // skipped by decode(skip_special_tokens)
};

// tokenizer.json's "decoder" (decode() only).
struct DecoderConfig {
  enum class Kind { None, WordPiece, Metaspace, Unsupported };
  Kind kind = Kind::None;
  std::string type;  // as named in the file (for the Unsupported error)
  std::string prefix = "##";
  bool cleanup = true;
  std::string replacement = "\u2581";
  bool strip_leading_space = true;  // Metaspace: prepend_scheme is not "never"
};

struct SpecialPiece {
  std::int32_t id = 0;
  std::int32_t type_id = 0;
};

struct TokenizerData {
  std::string origin;  // file name (or label) used in error messages

  // WordPiece model.
  VocabMap vocab;         // every token
  VocabMap continuation;  // tokens that start with the prefix, prefix removed
  std::vector<std::string> id_to_token;
  std::string unk_token = "[UNK]";
  std::string prefix = "##";
  std::int32_t unk_id = 0;
  std::size_t max_word_chars = 100;

  // BertNormalizer.
  bool clean_text = false;
  bool handle_chinese_chars = false;
  bool strip_accents = false;
  bool lowercase = false;
  std::array<std::uint8_t, 128> ascii_flags{};

  // Added tokens, matched on the input before normalization, longest first.
  std::vector<AddedToken> added;
  std::array<bool, 256> added_first_byte{};

  // Post-processor: specials around the sequence.
  std::vector<SpecialPiece> before;
  std::vector<SpecialPiece> after;
  std::int32_t sequence_type_id = 0;

  // RobertaProcessing: trim whitespace from token offsets (Unigram path).
  bool trim_offsets = false;
  bool add_prefix_space = true;

  // Unigram model (null for WordPiece): the encoder dispatches on it.
  std::unique_ptr<UnigramPipeline> unigram;

  std::int32_t cls_id = -1;
  std::int32_t sep_id = -1;
  std::int32_t pad_id = 0;
  std::size_t truncation_max_length = 0;

  DecoderConfig decoder;
};

// The added token that starts at byte i of text (longest first), or null.
inline const AddedToken* match_added_token(const TokenizerData& t, std::string_view text,
                                           std::size_t i) noexcept {
  if (!t.added_first_byte[static_cast<unsigned char>(text[i])]) return nullptr;
  for (const auto& a : t.added) {
    if (text.compare(i, a.content.size(), a.content) == 0) return &a;
  }
  return nullptr;
}

// The byte range of a match of `a` at byte i, widened over whitespace (Rust
// char::is_whitespace) by lstrip, not before `floor` (the end of the previous
// match), and by rstrip, as HF's AddedVocabulary does.
std::pair<std::size_t, std::size_t> added_match_range(const AddedToken& a, std::string_view text,
                                                      std::size_t i, std::size_t floor) noexcept;

// Parses tokenizer.json text; throws Error(ModelError) naming `origin`.
TokenizerData parse_tokenizer_json(std::string_view json, const std::string& origin);

}  // namespace akidb::embed
