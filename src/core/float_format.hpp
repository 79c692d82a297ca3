#pragma once
// Shortest round-trip float formatting for JSON output (std::to_chars).
#include <charconv>
#include <span>
#include <string>

namespace akidb::embed {

inline void append_float(std::string& out, float value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, ec == std::errc() ? end : buf);
}

// Appends "[v0,v1,...]".
inline void append_float_array(std::string& out, std::span<const float> values) {
  out.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out.push_back(',');
    append_float(out, values[i]);
  }
  out.push_back(']');
}

}  // namespace akidb::embed
