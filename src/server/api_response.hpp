#pragma once
// JSON response bodies, written by hand with the shared shortest round-trip
// float formatter (serialization is on the hot path of batch responses).
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "akidb/embed/types.hpp"
#include "server/api_error.hpp"

namespace akidb::embed::server {

// Appends text as a JSON string literal (quotes and escapes included).
void append_json_string(std::string& out, std::string_view text);

// Standard base64 of the bytes of little-endian float32 values.
std::string base64_floats(std::span<const float> values);

// {"object":"list","data":[...],"model":...,"usage":{...}}
std::string openai_response(const Embeddings& embeddings, std::string_view model, bool base64,
                            std::size_t prompt_tokens);

// [[...],[...]]
std::string tei_response(const Embeddings& embeddings);

// [0.93,0.12,...]
std::string float_list(std::span<const float> values);

// [[[...],[...]],...]: per input, one vector per token.
std::string tei_token_vectors(const std::vector<Embeddings>& per_input);

// ["text", ...]
std::string string_list(const std::vector<std::string>& values);

// {"error":{"message":...,"type":...,"code":...,"param":null}}
std::string error_body(const ApiError& error);

// {"error":"...","error_type":"..."}
std::string tei_error_body(const ApiError& error, std::string_view error_type);

}  // namespace akidb::embed::server
