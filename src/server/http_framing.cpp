#include "server/http_framing.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <vector>

namespace akidb::embed::server {
namespace {

constexpr std::size_t kShownChars = 64;

// A header value as the error message shows it: printable ASCII as is,
// other bytes as \xHH (the JSON body stays valid UTF-8), at most 64 bytes.
std::string shown(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (std::size_t i = 0; i < value.size() && i < kShownChars; ++i) {
    const auto u = static_cast<unsigned char>(value[i]);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(static_cast<char>(u));
    } else {
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15U]);
    }
  }
  if (value.size() > kShownChars) out += "...";
  out.push_back('\'');
  return out;
}

std::string_view trim(std::string_view s) {
  const auto ows = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ows(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 9110 §5.6.2 tchar.
bool is_token(std::string_view s) {
  static constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

bool is_chunked(std::string_view s) {
  constexpr std::string_view kChunked = "chunked";
  return s.size() == kChunked.size() &&
         std::equal(s.begin(), s.end(), kChunked.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

struct Coding {
  std::string_view name;
  bool has_parameters = false;
};

// The list's elements (empty ones dropped, as RFC 9110 §5.6.1 asks);
// nothing if an element's name is not a token.
std::vector<Coding> split_codings(std::span<const std::string_view> fields, bool& malformed) {
  std::vector<Coding> codings;
  malformed = false;
  for (std::string_view field : fields) {
    while (true) {
      const auto comma = field.find(',');
      const auto element = trim(field.substr(0, comma));
      if (!element.empty()) {
        const auto semicolon = element.find(';');
        const auto name = trim(element.substr(0, semicolon));
        if (!is_token(name)) malformed = true;
        codings.push_back({name, semicolon != std::string_view::npos});
      }
      if (comma == std::string_view::npos) break;
      field.remove_prefix(comma + 1);
    }
  }
  return codings;
}

FramingVerdict bad(std::string reason) { return {400, std::move(reason)}; }

FramingVerdict check_transfer_encoding(std::span<const std::string_view> fields) {
  std::string value;
  for (const auto field : fields) value += (value.empty() ? "" : ", ") + std::string(field);
  const auto named = "Transfer-Encoding " + shown(value);
  bool malformed = false;
  const auto codings = split_codings(fields, malformed);
  if (codings.empty()) return bad("Transfer-Encoding is empty");
  if (malformed) return bad(named + " is not a list of transfer codings");
  const auto& last = codings.back();
  if (!is_chunked(last.name) || last.has_parameters) {
    return bad(named + ": the final transfer coding must be chunked");
  }
  for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
    if (is_chunked(codings[i].name)) return bad(named + ": chunked may be applied only once");
  }
  if (codings.size() > 1) {
    return {501, named + ": transfer coding " + shown(codings.front().name) +
                     " is not supported (only chunked is)"};
  }
  return {};
}

FramingVerdict check_content_length(std::span<const std::string_view> fields) {
  if (fields.size() > 1) return bad("Content-Length is given more than once");
  const auto value = trim(fields.front());
  const bool digits = !value.empty() && std::all_of(value.begin(), value.end(),
                                                    [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return bad("Content-Length " + shown(value) + " is not a decimal number");
  return {};
}

}  // namespace

FramingVerdict check_request_framing(std::span<const std::string_view> transfer_encoding,
                                     std::span<const std::string_view> content_length,
                                     unsigned version) {
  if (!transfer_encoding.empty()) {
    if (version < 11) return bad("Transfer-Encoding is not allowed in an HTTP/1.0 request");
    if (!content_length.empty()) {
      return bad("Transfer-Encoding and Content-Length together: send one of them");
    }
    return check_transfer_encoding(transfer_encoding);
  }
  if (!content_length.empty()) return check_content_length(content_length);
  return {};
}

}  // namespace akidb::embed::server
