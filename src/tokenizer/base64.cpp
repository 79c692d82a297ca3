#include "tokenizer/base64.hpp"

#include <array>
#include <cstdint>

namespace akidb::embed {
namespace {

constexpr std::int8_t kInvalid = -1;

constexpr std::array<std::int8_t, 256> make_table() {
  std::array<std::int8_t, 256> table{};
  table.fill(kInvalid);
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr std::array<std::int8_t, 256> kTable = make_table();

}  // namespace

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  const std::size_t data_chars = text.size() - padding;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t bits = 0;
  int n_bits = 0;
  for (std::size_t i = 0; i < data_chars; ++i) {
    const std::int8_t v = kTable[static_cast<unsigned char>(text[i])];
    if (v == kInvalid) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    n_bits += 6;
    if (n_bits >= 8) {
      n_bits -= 8;
      out.push_back(static_cast<char>((bits >> n_bits) & 0xFF));
    }
  }
  if ((bits & ((1u << n_bits) - 1)) != 0) return std::nullopt;  // non-canonical tail
  return out;
}

}  // namespace akidb::embed
