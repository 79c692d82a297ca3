#pragma once
// Strict parsing of the API's JSON request bodies (simdjson DOM: the whole
// document, UTF-8 included, is validated before any field is read).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "akidb/embed/types.hpp"

namespace akidb::embed::server {

struct RequestLimits {
  std::size_t max_inputs = 2048;         // inputs per request
  std::size_t max_input_chars = 100000;  // Unicode code points (or token ids) per input
};

// POST /v1/embeddings
struct OpenAiEmbedRequest {
  EmbedRequest request;  // normalize unset (as the model does), truncate = true
  std::string model;     // as sent (may be empty)
  bool base64 = false;
  std::optional<std::size_t> dimensions;
};

// POST /embed
struct TeiEmbedRequest {
  EmbedRequest request;
};

// POST /tokenize
struct TokenizeRequest {
  std::vector<std::string> inputs;
  bool add_special_tokens = true;
  bool return_tokens = false;  // token strings and byte offsets too
  bool truncate = true;
};

// Each throws ApiError (400 malformed/wrong type, 422 unacceptable value).
OpenAiEmbedRequest parse_openai_request(std::string_view body, const RequestLimits& limits,
                                        std::size_t model_dimension);
TeiEmbedRequest parse_tei_request(std::string_view body, const RequestLimits& limits);
TokenizeRequest parse_tokenize_request(std::string_view body, const RequestLimits& limits);

// Unicode code points in valid UTF-8 text.
std::size_t count_code_points(std::string_view text) noexcept;

}  // namespace akidb::embed::server
