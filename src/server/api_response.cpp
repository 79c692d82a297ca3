#include "server/api_response.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "akidb/embed/pooling.hpp"
#include "core/float_format.hpp"

namespace akidb::embed::server {
namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void append_base64(std::string& out, std::span<const unsigned char> bytes) {
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) |
                            std::uint32_t{bytes[i + 2]};
    out += kBase64[(v >> 18) & 63U];
    out += kBase64[(v >> 12) & 63U];
    out += kBase64[(v >> 6) & 63U];
    out += kBase64[v & 63U];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return;
  std::uint32_t v = std::uint32_t{bytes[i]} << 16;
  if (rest == 2) v |= std::uint32_t{bytes[i + 1]} << 8;
  out += kBase64[(v >> 18) & 63U];
  out += kBase64[(v >> 12) & 63U];
  out += rest == 2 ? kBase64[(v >> 6) & 63U] : '=';
  out += '=';
}

void append_size(std::string& out, std::size_t n) { out += std::to_string(n); }

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out += "\\u00";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15U]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

std::string base64_floats(std::span<const float> values) {
  static_assert(std::endian::native == std::endian::little, "base64 output assumes little-endian");
  std::string out;
  out.reserve((values.size() * 4 + 2) / 3 * 4);
  append_base64(out, {reinterpret_cast<const unsigned char*>(values.data()), values.size_bytes()});
  return out;
}

std::string openai_response(const Embeddings& embeddings, std::string_view model, bool base64,
                            std::size_t prompt_tokens) {
  std::string out;
  out.reserve(64 + embeddings.rows() * (48 + embeddings.dimension() * (base64 ? 6 : 13)));
  out += R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < embeddings.rows(); ++i) {
    if (i) out.push_back(',');
    out += R"({"object":"embedding","index":)";
    append_size(out, i);
    out += R"(,"embedding":)";
    if (base64) {
      out.push_back('"');
      out += base64_floats(embeddings.row(i));
      out.push_back('"');
    } else {
      append_float_array(out, embeddings.row(i));
    }
    out.push_back('}');
  }
  out += R"(],"model":)";
  append_json_string(out, model);
  out += R"(,"usage":{"prompt_tokens":)";
  append_size(out, prompt_tokens);
  out += R"(,"total_tokens":)";
  append_size(out, prompt_tokens);
  out += "}}";
  return out;
}

std::string tei_response(const Embeddings& embeddings) {
  std::string out;
  out.reserve(2 + embeddings.rows() * (2 + embeddings.dimension() * 13));
  out.push_back('[');
  for (std::size_t i = 0; i < embeddings.rows(); ++i) {
    if (i) out.push_back(',');
    append_float_array(out, embeddings.row(i));
  }
  out.push_back(']');
  return out;
}

std::string float_list(std::span<const float> values) {
  std::string out;
  out.reserve(2 + values.size() * 13);
  append_float_array(out, values);
  return out;
}

std::string tei_token_vectors(const std::vector<Embeddings>& per_input) {
  std::string out;
  out.push_back('[');
  for (std::size_t i = 0; i < per_input.size(); ++i) {
    if (i) out.push_back(',');
    out += tei_response(per_input[i]);
  }
  out.push_back(']');
  return out;
}

std::string string_list(const std::vector<std::string>& values) {
  std::string out;
  out.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, values[i]);
  }
  out.push_back(']');
  return out;
}

std::string tei_error_body(const ApiError& error, std::string_view error_type) {
  std::string out = R"({"error":)";
  append_json_string(out, error.message());
  out += R"(,"error_type":)";
  append_json_string(out, error_type);
  out.push_back('}');
  return out;
}

std::string error_body(const ApiError& error) {
  std::string out = R"({"error":{"message":)";
  append_json_string(out, error.message());
  out += R"(,"type":)";
  append_json_string(out, error.type());
  out += R"(,"code":)";
  append_json_string(out, error.code());
  out += R"(,"param":null}})";
  return out;
}

}  // namespace akidb::embed::server
