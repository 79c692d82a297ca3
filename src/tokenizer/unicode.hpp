#pragma once
// Character classification and mappings with the exact behaviour of Hugging Face
// `tokenizers` (BertNormalizer, BertPreTokenizer). The tables are generated from
// the oracle itself by scripts/gen_tokenizer_tables.py.
#include <array>
#include <cstddef>
#include <cstdint>

namespace akidb::embed::unicode {

enum Flag : std::uint8_t {
  kDrop = 1,        // clean_text removes it (controls, U+0000, U+FFFD, unassigned, ...)
  kCleanSpace = 2,  // clean_text maps it to ' '
  kWhitespace = 4,  // BertPreTokenizer splits on it (Rust char::is_whitespace)
  kPunct = 8,       // BertPreTokenizer isolates it
  kChinese = 16,    // handle_chinese_chars puts spaces around it
  kStripDrop = 32,  // strip_accents (NFD, drop Mn) removes it entirely
  kStripMap = 64,   // strip_accents replaces it with other characters
  kLower = 128,     // lowercase changes it
};

struct PropertyRange {
  char32_t first;
  char32_t last;
  std::uint8_t flags;
};

struct CharMapping {
  char32_t cp;
  std::uint8_t n;
  std::array<char32_t, 4> out;
};

using Chars = std::array<char32_t, 4>;

std::uint8_t flags(char32_t cp) noexcept;
// NFD of cp without nonspacing marks; only meaningful when flags(cp) has kStripMap.
std::size_t strip(char32_t cp, Chars& out) noexcept;
// Rust char::to_lowercase; only meaningful when flags(cp) has kLower.
std::size_t lower(char32_t cp, Chars& out) noexcept;
// Canonical combining class (for NFD reordering), from utf8proc.
int combining_class(char32_t cp) noexcept;
// Full canonical decomposition (NFD of one code point, not reordered), from
// utf8proc; returns the number of code points written.
std::size_t decompose(char32_t cp, Chars& out) noexcept;

// Decodes one code point from valid UTF-8 (validate first); returns its length.
inline std::size_t decode(const unsigned char* p, char32_t& cp) noexcept {
  const unsigned b = p[0];
  if (b < 0x80) {
    cp = b;
    return 1;
  }
  if (b < 0xE0) {
    cp = ((b & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    return 2;
  }
  if (b < 0xF0) {
    cp = ((b & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    return 3;
  }
  cp = ((b & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
  return 4;
}

// Writes cp as UTF-8 into out (room for 4 bytes); returns the length.
inline std::size_t encode(char32_t cp, char* out) noexcept {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

}  // namespace akidb::embed::unicode
