#include "tokenizer/precompiled_charsmap.hpp"

#include <cstring>

#include "akidb/embed/error.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "tokenizer/base64.hpp"

namespace akidb::embed {
namespace {

// darts-clone unit fields.
bool has_leaf(std::uint32_t unit) noexcept { return ((unit >> 8) & 1) != 0; }
std::uint32_t value(std::uint32_t unit) noexcept { return unit & ((1u << 31) - 1); }
std::uint32_t label(std::uint32_t unit) noexcept { return unit & ((1u << 31) | 0xFF); }
std::uint32_t offset(std::uint32_t unit) noexcept {
  return (unit >> 10) << ((unit & (1u << 9)) >> 6);
}

std::uint32_t read_u32_le(const char* p) noexcept {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
         (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
}

}  // namespace

PrecompiledCharsmap PrecompiledCharsmap::from_bytes(std::string_view bytes,
                                                    const std::string& origin) {
  const std::string field = "normalizer Precompiled.precompiled_charsmap: ";
  if (bytes.size() < 4) throw model_error(origin, field + "shorter than its 4-byte header");
  const std::uint32_t trie_bytes = read_u32_le(bytes.data());
  if (trie_bytes == 0 || trie_bytes % 4 != 0 || trie_bytes > bytes.size() - 4) {
    throw model_error(origin, field + "trie size " + std::to_string(trie_bytes) +
                                  " does not fit the " + std::to_string(bytes.size()) +
                                  "-byte map");
  }
  PrecompiledCharsmap map;
  map.units_.resize(trie_bytes / 4);
  for (std::size_t i = 0; i < map.units_.size(); ++i) {
    map.units_[i] = read_u32_le(bytes.data() + 4 + 4 * i);
  }
  map.normalized_.assign(bytes.substr(4 + trie_bytes));
  // Replacements are spliced into the text, so they must be valid UTF-8.
  for (std::size_t start = 0; start < map.normalized_.size();) {
    std::size_t end = map.normalized_.find('\0', start);
    if (end == std::string::npos) end = map.normalized_.size();
    if (const auto bad =
            find_invalid_utf8(std::string_view(map.normalized_).substr(start, end - start))) {
      throw model_error(origin, field + "replacement at byte " + std::to_string(start + *bad) +
                                    " is not valid UTF-8");
    }
    start = end + 1;
  }
  // Every leaf must point inside the unit array, and its value inside the strings.
  for (std::size_t pos = 0; pos < map.units_.size(); ++pos) {
    const std::uint32_t unit = map.units_[pos];
    if (!has_leaf(unit) || label(unit) > 0xFF) continue;
    const std::size_t leaf = pos ^ offset(unit);
    if (leaf >= map.units_.size() || value(map.units_[leaf]) >= map.normalized_.size()) {
      throw model_error(origin,
                        field + "trie entry " + std::to_string(pos) + " points outside the map");
    }
  }
  for (std::size_t b = 0; b < map.ascii_.size(); ++b) {
    const char c = static_cast<char>(b);
    if (const auto norm = map.transform(std::string_view(&c, 1))) {
      map.ascii_[b] = {true, static_cast<std::uint32_t>(norm->data() - map.normalized_.data()),
                       static_cast<std::uint32_t>(norm->size())};
    }
  }
  return map;
}

PrecompiledCharsmap PrecompiledCharsmap::from_base64(std::string_view text,
                                                     const std::string& origin) {
  const auto bytes = decode_base64(text);
  if (!bytes) {
    throw model_error(origin, "normalizer Precompiled.precompiled_charsmap: invalid base64");
  }
  return from_bytes(*bytes, origin);
}

std::optional<std::string_view> PrecompiledCharsmap::transform(
    std::string_view key) const noexcept {
  const std::size_t n_units = units_.size();
  std::size_t pos = offset(units_[0]);
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) break;
    pos ^= c;
    if (pos >= n_units) return std::nullopt;
    const std::uint32_t unit = units_[pos];
    if (label(unit) != c) return std::nullopt;
    pos ^= offset(unit);
    if (has_leaf(unit)) {
      if (pos >= n_units) return std::nullopt;
      const std::size_t start = value(units_[pos]);
      if (start >= normalized_.size()) return std::nullopt;
      const char* begin = normalized_.data() + start;
      const void* nul = std::memchr(begin, 0, normalized_.size() - start);
      const std::size_t len = nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - begin)
                                  : normalized_.size() - start;
      return std::string_view(begin, len);
    }
  }
  return std::nullopt;
}

}  // namespace akidb::embed
