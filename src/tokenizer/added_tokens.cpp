// Added-token matches widened by lstrip / rstrip.
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unicode.hpp"

namespace akidb::embed {
namespace {

bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

bool whitespace_at(std::string_view text, std::size_t at) noexcept {
  char32_t cp = 0;
  unicode::decode(reinterpret_cast<const unsigned char*>(text.data()) + at, cp);
  return (unicode::flags(cp) & unicode::kWhitespace) != 0;
}

}  // namespace

std::pair<std::size_t, std::size_t> added_match_range(const AddedToken& a, std::string_view text,
                                                      std::size_t i, std::size_t floor) noexcept {
  std::size_t start = i;
  std::size_t end = i + a.content.size();
  if (a.lstrip) {
    while (start > floor) {
      std::size_t prev = start - 1;
      while (prev > 0 && is_continuation(text[prev])) --prev;
      if (prev < floor || !whitespace_at(text, prev)) break;
      start = prev;
    }
  }
  if (a.rstrip) {
    while (end < text.size() && whitespace_at(text, end)) {
      do {
        ++end;
      } while (end < text.size() && is_continuation(text[end]));
    }
  }
  return {start, end};
}

}  // namespace akidb::embed
