#pragma once
// A value from a request as an error message echoes it: control characters
// (NUL included) as \u00XX, everything else as is. A message holds no NUL
// then, so no C-string step on its way out (what(), %s) can cut it short,
// and no raw control character reaches a log line or terminal.
#include <string>
#include <string_view>

namespace akidb::embed {

inline std::string printable(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15U]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace akidb::embed
