#pragma once
// SentencePiece's precompiled normalization map (the `precompiled_charsmap` of a
// tokenizer.json Precompiled normalizer): a darts-clone double-array trie over
// UTF-8 keys whose values index NUL-terminated replacement strings.
//
// Layout: u32 little-endian trie size in bytes, the trie's u32 units, then the
// replacement strings.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace akidb::embed {

class PrecompiledCharsmap {
 public:
  // Parses the decoded blob; throws Error(ModelError) naming `origin` when it
  // is malformed (too short, trie out of bounds, values past the strings).
  static PrecompiledCharsmap from_bytes(std::string_view bytes, const std::string& origin);
  // Same from the base64 text stored in tokenizer.json.
  static PrecompiledCharsmap from_base64(std::string_view text, const std::string& origin);

  // The replacement for the shortest key that is a prefix of `key` (what HF's
  // spm_precompiled returns), or nullopt when no key is a prefix.
  std::optional<std::string_view> transform(std::string_view key) const noexcept;
  // transform() of one ASCII character, from a table filled at load.
  std::optional<std::string_view> transform_ascii(char c) const noexcept {
    const AsciiEntry& e = ascii_[static_cast<unsigned char>(c) & 0x7F];
    if (!e.mapped) return std::nullopt;
    return std::string_view(normalized_).substr(e.offset, e.length);
  }

 private:
  struct AsciiEntry {
    bool mapped = false;
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };

  std::vector<std::uint32_t> units_;
  std::string normalized_;
  std::array<AsciiEntry, 128> ascii_{};
};

}  // namespace akidb::embed
