#include "server/api_request.hpp"

#include <simdjson.h>

#include <cmath>
#include <limits>

#include "core/printable.hpp"
#include "server/api_error.hpp"

namespace akidb::embed::server {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string describe_parse_error(simdjson::error_code error) {
  switch (error) {
    case simdjson::UTF8_ERROR:
      return "the request body is not valid UTF-8 (a JSON string holds an invalid UTF-8 sequence)";
    case simdjson::STRING_ERROR:
      return "malformed JSON: a string has an invalid escape (e.g. a lone \\u surrogate)";
    case simdjson::UNESCAPED_CHARS:
      return "malformed JSON: a string holds an unescaped control character";
    case simdjson::EMPTY:
      return "the request body is empty: send a JSON object";
    case simdjson::DEPTH_ERROR:
      return "malformed JSON: nested too deeply";
    default:
      return std::string("malformed JSON: ") + simdjson::error_message(error);
  }
}

std::string_view type_name(element_type type) {
  switch (type) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
      return "an integer";
    case element_type::DOUBLE:
      return "a number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

ApiError wrong_type(std::string_view field, std::string_view expected, element value) {
  return bad_request("'" + std::string(field) + "' must be " + std::string(expected) + ", not " +
                         std::string(type_name(value.type())),
                     "invalid_type");
}

simdjson::dom::object parse_object(simdjson::dom::parser& parser, std::string_view body) {
  element doc;
  if (auto error = parser.parse(body.data(), body.size(), true).get(doc)) {
    throw bad_request(describe_parse_error(error), "invalid_json");
  }
  if (doc.type() != element_type::OBJECT) {
    throw bad_request(
        "the request body must be a JSON object, not " + std::string(type_name(doc.type())),
        "invalid_json");
  }
  return doc.get_object().value_unsafe();
}

bool get_bool(std::string_view field, element value) {
  if (value.type() != element_type::BOOL) throw wrong_type(field, "true or false", value);
  return value.get_bool().value_unsafe();
}

std::string get_string(std::string_view field, element value) {
  if (value.type() != element_type::STRING) throw wrong_type(field, "a string", value);
  return std::string(value.get_string().value_unsafe());
}

std::string at(std::string_view field, std::size_t i) {
  return std::string(field) + "[" + std::to_string(i) + "]";
}

std::string checked_text(std::string_view field, element value, const RequestLimits& limits) {
  std::string text = get_string(field, value);
  if (count_code_points(text) > limits.max_input_chars) {
    throw unprocessable("'" + std::string(field) + "' is longer than the limit of " +
                            std::to_string(limits.max_input_chars) + " characters",
                        "input_too_long");
  }
  return text;
}

// JSON Schema's "integer": an integer, or a number with no fractional part (3.0).
bool is_integer(element value) {
  const auto type = value.type();
  if (type == element_type::INT64 || type == element_type::UINT64) return true;
  if (type != element_type::DOUBLE) return false;
  const double v = value.get_double().value_unsafe();
  return std::isfinite(v) && std::trunc(v) == v;
}

// An integer value clamped into [-2^63, 2^63) (out-of-range values stay out of range).
std::int64_t integer_value(element value) {
  switch (value.type()) {
    case element_type::INT64:
      return value.get_int64().value_unsafe();
    case element_type::UINT64:
      return std::numeric_limits<std::int64_t>::max();
    default: {
      const double v = value.get_double().value_unsafe();
      if (v >= 9.2e18) return std::numeric_limits<std::int64_t>::max();
      if (v <= -9.2e18) return std::numeric_limits<std::int64_t>::min();
      return static_cast<std::int64_t>(v);
    }
  }
}

std::int32_t token_id(std::string_view field, element value) {
  if (is_integer(value)) {
    const auto v = integer_value(value);
    if (v >= std::numeric_limits<std::int32_t>::min() &&
        v <= std::numeric_limits<std::int32_t>::max()) {
      return static_cast<std::int32_t>(v);
    }
    throw unprocessable("'" + std::string(field) + "' is not a valid token id (out of range)",
                        "invalid_token_id");
  }
  throw wrong_type(field, "an integer token id", value);
}

TokenIds token_list(std::string_view field, simdjson::dom::array array,
                    const RequestLimits& limits) {
  if (array.size() == 0) throw unprocessable("'" + std::string(field) + "' is an empty token list");
  if (array.size() > limits.max_input_chars) {
    throw unprocessable("'" + std::string(field) + "' has more than " +
                            std::to_string(limits.max_input_chars) + " tokens",
                        "input_too_long");
  }
  TokenIds ids;
  ids.reserve(array.size());
  std::size_t i = 0;
  for (element v : array) ids.push_back(token_id(at(field, i++), v));
  return ids;
}

void check_count(std::string_view field, std::size_t n, const RequestLimits& limits) {
  if (n == 0) {
    throw unprocessable("'" + std::string(field) + "' is an empty list: send at least one input",
                        "empty_input");
  }
  if (n > limits.max_inputs) {
    throw unprocessable("'" + std::string(field) + "' has " + std::to_string(n) +
                            " inputs, more than the limit of " + std::to_string(limits.max_inputs),
                        "too_many_inputs");
  }
}

constexpr std::string_view kInputForms =
    "a string, an array of strings, an array of token ids or an array of arrays of token ids";

// string | [string] | [int] | [[int]]
void parse_input(std::string_view field, element value, const RequestLimits& limits,
                 EmbedRequest& out) {
  if (value.type() == element_type::STRING) {
    out.inputs = std::vector<std::string>{checked_text(field, value, limits)};
    return;
  }
  if (value.type() != element_type::ARRAY) throw wrong_type(field, kInputForms, value);
  const auto array = value.get_array().value_unsafe();
  check_count(field, array.size(), limits);
  const auto first = array.at(0).value_unsafe().type();
  if (first == element_type::STRING) {
    std::vector<std::string> texts;
    texts.reserve(array.size());
    std::size_t i = 0;
    for (element v : array) texts.push_back(checked_text(at(field, i++), v, limits));
    out.inputs = std::move(texts);
  } else if (is_integer(array.at(0).value_unsafe())) {
    out.inputs = std::vector<TokenIds>{token_list(field, array, limits)};
  } else if (first == element_type::ARRAY) {
    std::vector<TokenIds> lists;
    lists.reserve(array.size());
    std::size_t i = 0;
    for (element v : array) {
      const auto name = at(field, i++);
      if (v.type() != element_type::ARRAY) throw wrong_type(name, "an array of token ids", v);
      lists.push_back(token_list(name, v.get_array().value_unsafe(), limits));
    }
    out.inputs = std::move(lists);
  } else {
    throw bad_request("'" + at(field, 0) +
                          "' must be a string, a token id or an array of token ids, not " +
                          std::string(type_name(first)),
                      "invalid_type");
  }
}

std::size_t parse_dimensions(element value, std::size_t model_dimension) {
  if (!is_integer(value)) throw wrong_type("dimensions", "an integer", value);
  const auto d = integer_value(value);
  if (d < 1) check_dimensions(0, model_dimension);
  check_dimensions(static_cast<std::uint64_t>(d), model_dimension);
  return static_cast<std::size_t>(d);
}

bool is_null(element value) { return value.type() == element_type::NULL_VALUE; }

std::optional<std::string> optional_string(std::string_view field, element value) {
  if (is_null(value)) return std::nullopt;
  return get_string(field, value);
}

// TEI writes "Left"/"Right"; the lower-case forms are accepted too.
TruncationDirection parse_direction(element value) {
  if (is_null(value)) return TruncationDirection::Right;
  const auto dir = get_string("truncation_direction", value);
  if (dir == "Right" || dir == "right") return TruncationDirection::Right;
  if (dir == "Left" || dir == "left") return TruncationDirection::Left;
  throw unprocessable(
      "'truncation_direction' must be \"Left\" or \"Right\", not \"" + printable(dir) + "\"",
      "invalid_truncation_direction");
}

// truncate, truncation_direction and prompt_name (TEI's EmbedRequest and
// SimilarityParameters); other keys are ignored.
void parse_encoding_option(std::string_view key, element value, EmbedRequest& out) {
  if (key == "truncate") {
    if (!is_null(value)) out.truncate = get_bool("truncate", value);
  } else if (key == "truncation_direction") {
    out.truncation_direction = parse_direction(value);
  } else if (key == "prompt_name") {
    out.prompt_name = optional_string("prompt_name", value);
  }
}

// [string], each checked against the length limit.
std::vector<std::string> text_list(std::string_view field, element value,
                                   const RequestLimits& limits) {
  if (value.type() != element_type::ARRAY) throw wrong_type(field, "an array of strings", value);
  const auto array = value.get_array().value_unsafe();
  if (array.size() > limits.max_inputs) check_count(field, array.size(), limits);
  std::vector<std::string> texts;
  texts.reserve(array.size());
  std::size_t i = 0;
  for (element v : array) texts.push_back(checked_text(at(field, i++), v, limits));
  return texts;
}

// [int] for /decode: may be empty (decodes to "").
TokenIds id_list(std::string_view field, simdjson::dom::array array, const RequestLimits& limits) {
  if (array.size() == 0) return {};
  return token_list(field, array, limits);
}

}  // namespace

void check_dimensions(std::uint64_t dimensions, std::size_t model_dimension) {
  if (dimensions < 1 || dimensions > model_dimension) {
    throw unprocessable("'dimensions' must be between 1 and the model's dimension " +
                            std::to_string(model_dimension),
                        "invalid_dimensions");
  }
}

std::size_t count_code_points(std::string_view text) noexcept {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0U) != 0x80U ? 1 : 0;
  return n;
}

OpenAiEmbedRequest parse_openai_request(std::string_view body, const RequestLimits& limits,
                                        std::size_t model_dimension) {
  simdjson::dom::parser parser;
  OpenAiEmbedRequest out;
  bool has_input = false;
  for (auto field : parse_object(parser, body)) {
    const std::string_view key = field.key;
    if (key == "input") {
      parse_input("input", field.value, limits, out.request);
      has_input = true;
    } else if (key == "model") {
      out.model = optional_string("model", field.value).value_or("");
    } else if (key == "encoding_format") {
      const auto format = get_string("encoding_format", field.value);
      if (format != "float" && format != "base64") {
        throw bad_request(
            "'encoding_format' must be \"float\" or \"base64\", not \"" + printable(format) + "\"",
            "invalid_encoding_format");
      }
      out.base64 = format == "base64";
    } else if (key == "dimensions") {
      if (field.value.type() != element_type::NULL_VALUE)
        out.dimensions = parse_dimensions(field.value, model_dimension);
    } else if (key == "user") {
      if (field.value.type() != element_type::NULL_VALUE) get_string("user", field.value);
    } else if (key == "prompt_name") {  // our extension: TEI's prompt_name on the OpenAI route
      out.request.prompt_name = optional_string("prompt_name", field.value);
    }
    // Other fields are ignored, as OpenAI-compatible servers commonly do.
  }
  if (!has_input) throw bad_request("'input' is required", "missing_input");
  return out;
}

TeiEmbedRequest parse_tei_request(std::string_view body, const RequestLimits& limits,
                                  std::size_t model_dimension) {
  simdjson::dom::parser parser;
  TeiEmbedRequest out;
  out.request.normalize = true;  // TEI normalizes unless told not to, whatever the model
  bool has_inputs = false;
  for (auto field : parse_object(parser, body)) {
    const std::string_view key = field.key;
    if (key == "inputs") {
      parse_input("inputs", field.value, limits, out.request);
      has_inputs = true;
    } else if (key == "normalize") {
      out.request.normalize = get_bool("normalize", field.value);
    } else if (key == "dimensions") {
      if (!is_null(field.value))
        out.request.dimensions = parse_dimensions(field.value, model_dimension);
    } else {
      parse_encoding_option(key, field.value, out.request);
    }
  }
  if (!has_inputs) throw bad_request("'inputs' is required", "missing_input");
  return out;
}

bool is_similarity_request(std::string_view body) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(body.data(), body.size(), true).get(doc)) return false;
  if (doc.type() != element_type::OBJECT) return false;
  element inputs;
  if (doc.get_object().value_unsafe().at_key("inputs").get(inputs)) return false;
  return inputs.type() == element_type::OBJECT;
}

SimilarityRequest parse_similarity_request(std::string_view body, const RequestLimits& limits) {
  simdjson::dom::parser parser;
  SimilarityRequest out;
  out.request.normalize = true;
  std::optional<std::string> source;
  std::vector<std::string> sentences;
  bool has_sentences = false;
  for (auto field : parse_object(parser, body)) {
    const std::string_view key = field.key;
    if (key == "inputs") {
      if (field.value.type() != element_type::OBJECT) {
        throw wrong_type("inputs", "an object with 'source_sentence' and 'sentences'", field.value);
      }
      const simdjson::dom::object inputs = field.value.get_object().value_unsafe();
      for (auto part : inputs) {
        if (part.key == "source_sentence") {
          source = checked_text("inputs.source_sentence", part.value, limits);
        } else if (part.key == "sentences") {
          sentences = text_list("inputs.sentences", part.value, limits);
          has_sentences = true;
        }
      }
    } else if (key == "parameters") {
      if (is_null(field.value)) continue;
      if (field.value.type() != element_type::OBJECT)
        throw wrong_type("parameters", "an object", field.value);
      const simdjson::dom::object parameters = field.value.get_object().value_unsafe();
      for (auto part : parameters) parse_encoding_option(part.key, part.value, out.request);
    }
  }
  if (!source) throw bad_request("'inputs.source_sentence' is required", "missing_input");
  if (!has_sentences) throw bad_request("'inputs.sentences' is required", "missing_input");
  check_count("inputs.sentences", sentences.size() + 1, limits);
  sentences.insert(sentences.begin(), std::move(*source));
  out.request.inputs = std::move(sentences);
  return out;
}

TokenizeRequest parse_tokenize_request(std::string_view body, const RequestLimits& limits) {
  simdjson::dom::parser parser;
  TokenizeRequest out;
  bool has_inputs = false;
  for (auto field : parse_object(parser, body)) {
    const std::string_view key = field.key;
    if (key == "inputs") {
      if (field.value.type() == element_type::STRING) {
        out.inputs = {checked_text("inputs", field.value, limits)};
      } else {
        out.inputs = text_list("inputs", field.value, limits);
        check_count("inputs", out.inputs.size(), limits);
      }
      has_inputs = true;
    } else if (key == "add_special_tokens") {
      out.add_special_tokens = get_bool("add_special_tokens", field.value);
    } else if (key == "truncate") {
      if (!is_null(field.value)) out.truncate = get_bool("truncate", field.value);
    } else if (key == "truncation_direction") {
      out.direction = parse_direction(field.value);
    } else if (key == "prompt_name") {
      out.prompt_name = optional_string("prompt_name", field.value);
    }
  }
  if (!has_inputs) throw bad_request("'inputs' is required", "missing_input");
  return out;
}

DecodeRequest parse_decode_request(std::string_view body, const RequestLimits& limits) {
  simdjson::dom::parser parser;
  DecodeRequest out;
  bool has_ids = false;
  for (auto field : parse_object(parser, body)) {
    const std::string_view key = field.key;
    if (key == "ids") {
      if (field.value.type() != element_type::ARRAY)
        throw wrong_type("ids", "an array of token ids or an array of arrays of them", field.value);
      const auto array = field.value.get_array().value_unsafe();
      check_count("ids", array.size(), limits);
      if (array.at(0).value_unsafe().type() == element_type::ARRAY) {
        std::size_t i = 0;
        for (element v : array) {
          const auto name = at("ids", i++);
          if (v.type() != element_type::ARRAY) throw wrong_type(name, "an array of token ids", v);
          out.ids.push_back(id_list(name, v.get_array().value_unsafe(), limits));
        }
      } else {
        out.ids.push_back(id_list("ids", array, limits));
      }
      has_ids = true;
    } else if (key == "skip_special_tokens") {
      out.skip_special_tokens = get_bool("skip_special_tokens", field.value);
    }
  }
  if (!has_ids) throw bad_request("'ids' is required", "missing_input");
  return out;
}

ApiError to_api_error(const Error& error) {
  switch (error.code()) {
    case ErrorCode::InvalidInput:
      return {422, "invalid_request_error", "invalid_input", error.what()};
    case ErrorCode::ModelError:
      return {500, "server_error", "model_error", error.what()};
    case ErrorCode::Unavailable:
      // The scheduler's words for a full queue (src/scheduling/scheduler.cpp).
      if (std::string_view(error.what()).starts_with("the request queue is full")) {
        return {503, "server_error", "overloaded", error.what()};
      }
      return {503, "server_error", "unavailable", error.what()};
    case ErrorCode::Timeout:
      return {504, "server_error", "timeout", error.what()};
    case ErrorCode::Internal:
      break;
  }
  return {500, "server_error", "internal_error", error.what()};
}

}  // namespace akidb::embed::server
