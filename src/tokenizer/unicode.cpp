#include "tokenizer/unicode.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <vector>

#include "akidb/embed/tokenizer.hpp"

namespace akidb::embed::unicode {
namespace {

#include "tokenizer/unicode_tables.inc"

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr std::size_t kBlockBits = 8;
constexpr std::size_t kBlockSize = std::size_t{1} << kBlockBits;
constexpr char32_t kHangulFirst = 0xAC00;
constexpr char32_t kHangulLast = 0xD7A3;

// Two-level lookup built once from the generated ranges: block index per 256
// code points, identical blocks shared. Immutable after construction.
class PropertyTable {
 public:
  PropertyTable() {
    std::vector<std::uint8_t> flat(kMaxCodePoint + 1, 0);
    for (const auto& r : kPropertyRanges) {
      std::fill(flat.begin() + r.first, flat.begin() + r.last + 1, r.flags);
    }
    const std::size_t n_blocks = flat.size() / kBlockSize;
    index_.resize(n_blocks);
    for (std::size_t b = 0; b < n_blocks; ++b) {
      const auto* block = flat.data() + b * kBlockSize;
      index_[b] = find_or_add(block);
    }
  }

  std::uint8_t get(char32_t cp) const noexcept {
    return blocks_[index_[cp >> kBlockBits] * kBlockSize + (cp & (kBlockSize - 1))];
  }

 private:
  std::uint16_t find_or_add(const std::uint8_t* block) {
    const std::size_t n = blocks_.size() / kBlockSize;
    for (std::size_t i = 0; i < n; ++i) {
      if (std::memcmp(blocks_.data() + i * kBlockSize, block, kBlockSize) == 0) {
        return static_cast<std::uint16_t>(i);
      }
    }
    blocks_.insert(blocks_.end(), block, block + kBlockSize);
    return static_cast<std::uint16_t>(n);
  }

  std::vector<std::uint16_t> index_;
  std::vector<std::uint8_t> blocks_;
};

const PropertyTable& table() {
  static const PropertyTable instance;
  return instance;
}

template <std::size_t N>
std::size_t lookup(const CharMapping (&map)[N], char32_t cp, Chars& out) noexcept {
  const auto* it = std::lower_bound(std::begin(map), std::end(map), cp,
                                    [](const CharMapping& m, char32_t c) { return m.cp < c; });
  if (it == std::end(map) || it->cp != cp) {
    out[0] = cp;
    return 1;
  }
  out = it->out;
  return it->n;
}

}  // namespace

std::uint8_t flags(char32_t cp) noexcept { return cp <= kMaxCodePoint ? table().get(cp) : 0; }

std::size_t strip(char32_t cp, Chars& out) noexcept {
  if (cp >= kHangulFirst && cp <= kHangulLast) {
    const char32_t s = cp - kHangulFirst;
    out[0] = 0x1100 + s / 588;
    out[1] = 0x1161 + (s % 588) / 28;
    if (s % 28 == 0) return 2;
    out[2] = 0x11A7 + s % 28;
    return 3;
  }
  return lookup(kStripMappings, cp, out);
}

std::size_t lower(char32_t cp, Chars& out) noexcept { return lookup(kLowerMappings, cp, out); }

int combining_class(char32_t cp) noexcept {
  const int ccc = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
  if (ccc == 0) return 0;
  return std::binary_search(std::begin(kOracleStarters), std::end(kOracleStarters), cp) ? 0 : ccc;
}

std::size_t decompose(char32_t cp, Chars& out) noexcept {
  std::array<utf8proc_int32_t, 8> buffer{};
  int boundclass = 0;
  const auto n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buffer.data(),
                                         static_cast<utf8proc_ssize_t>(buffer.size()),
                                         UTF8PROC_DECOMPOSE, &boundclass);
  if (n <= 0 || static_cast<std::size_t>(n) > out.size()) {
    out[0] = cp;
    return 1;
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
    out[i] = static_cast<char32_t>(buffer[i]);
  }
  return static_cast<std::size_t>(n);
}

}  // namespace akidb::embed::unicode

namespace akidb::embed {

std::optional<std::size_t> find_invalid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const unsigned b = p[i];
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // > U+10FFFF
    } else {
      return i;  // stray continuation, overlong C0/C1, F5..FF
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (std::size_t k = 2; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::nullopt;
}

}  // namespace akidb::embed
