#pragma once
// Strict parsing of the API's JSON request bodies (simdjson DOM: the whole
// document, UTF-8 included, is validated before any field is read).
#include <cstddef>
#include <cstdint>
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

// POST /embed, POST / and POST /embed_all (TEI's EmbedRequest)
struct TeiEmbedRequest {
  EmbedRequest request;  // normalize true unless sent, truncate true
};

// POST /similarity: input 0 is the source sentence, the others are compared with it.
struct SimilarityRequest {
  EmbedRequest request;  // normalize true
};

// POST /tokenize
struct TokenizeRequest {
  std::vector<std::string> inputs;
  bool add_special_tokens = true;
  bool truncate = false;  // TEI tokenizes the whole text
  std::optional<std::string> prompt_name;
  TruncationDirection direction = TruncationDirection::Right;
};

// POST /decode
struct DecodeRequest {
  std::vector<TokenIds> ids;
  bool skip_special_tokens = true;
};

// Each throws ApiError (400 malformed/wrong type, 422 unacceptable value).
OpenAiEmbedRequest parse_openai_request(std::string_view body, const RequestLimits& limits,
                                        std::size_t model_dimension);
TeiEmbedRequest parse_tei_request(std::string_view body, const RequestLimits& limits,
                                  std::size_t model_dimension);
SimilarityRequest parse_similarity_request(std::string_view body, const RequestLimits& limits);
TokenizeRequest parse_tokenize_request(std::string_view body, const RequestLimits& limits);
DecodeRequest parse_decode_request(std::string_view body, const RequestLimits& limits);

// 422 invalid_dimensions unless 1 <= dimensions <= model_dimension (the
// OpenAI route parses against the largest served model, then checks the
// model its request names).
void check_dimensions(std::uint64_t dimensions, std::size_t model_dimension);

// True when the body is a JSON object whose "inputs" is an object (a
// similarity request: POST / serves both, as TEI's clients post both there).
bool is_similarity_request(std::string_view body);

// Unicode code points in valid UTF-8 text.
std::size_t count_code_points(std::string_view text) noexcept;

}  // namespace akidb::embed::server
