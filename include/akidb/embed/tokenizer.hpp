#pragma once
// BERT WordPiece or SentencePiece Unigram (XLM-R style) tokenizer loaded from a
// Hugging Face tokenizer.json, with exact id and offset parity with the
// `tokenizers` library (docs/tokenizer.md).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "akidb/embed/types.hpp"

namespace akidb::embed {

struct Encoding {
  std::vector<std::int32_t> ids;  // [CLS] ... [SEP] (or <s> ... </s>), after truncation
  std::vector<std::int32_t> type_ids;
  // Byte offsets [start, end) of each token into the input; (0, 0) for
  // special tokens. Filled only when asked for.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> offsets;
  std::size_t tokens_before_truncation = 0;  // special tokens included

  void clear() noexcept;
};

struct EncodeOptions {
  std::size_t max_length = 0;  // 0: the tokenizer's own truncation setting (or none)
  bool truncate = true;        // false: keep every token (caller decides what to do)
  bool with_offsets = false;
  // Left: drop tokens from the start of the text instead of its end.
  TruncationDirection direction = TruncationDirection::Right;
};

// Returns the byte offset of the first invalid UTF-8 sequence (overlong,
// surrogate, truncated, stray continuation, > U+10FFFF), or nullopt.
std::optional<std::size_t> find_invalid_utf8(std::string_view text) noexcept;

class Tokenizer {
 public:
  // Throws Error(ModelError) naming the file (and the field) when it is
  // missing, corrupt or of an unsupported kind (BPE, WordLevel, ...).
  static Tokenizer from_file(const std::filesystem::path& path);
  static Tokenizer from_json(std::string_view json, const std::string& origin);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Encodes one text into `out` (reusing its storage). Throws
  // Error(InvalidInput) for invalid UTF-8, with the byte offset.
  void encode(std::string_view text, Encoding& out, const EncodeOptions& options = {}) const;
  Encoding encode(std::string_view text, const EncodeOptions& options = {}) const;

  std::size_t vocab_size() const noexcept;
  std::optional<std::int32_t> token_to_id(std::string_view token) const;
  std::string_view id_to_token(std::int32_t id) const;  // empty when out of range
  // True for the added tokens tokenizer.json marks "special" ([CLS], [PAD], ...).
  bool is_special(std::int32_t id) const noexcept;
  // Ids back to text through tokenizer.json's decoder (WordPiece: "##"
  // joining and cleanup; Metaspace; none: tokens joined by spaces), as HF
  // tokenizers' decode() does. Throws Error(InvalidInput) for an id outside
  // the vocabulary, Error(ModelError) for a decoder it does not support.
  std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = true) const;
  // The post-processor's first / last special token ([CLS]/[SEP], <s>/</s>).
  std::int32_t cls_id() const noexcept;
  std::int32_t sep_id() const noexcept;
  std::int32_t pad_id() const noexcept;
  std::int32_t unk_id() const noexcept;
  // The truncation max_length from tokenizer.json, or 0 when none is set.
  std::size_t truncation_max_length() const noexcept;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
