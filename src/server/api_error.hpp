#pragma once
// HTTP-level errors of the API and how typed library errors map onto them.
#include <stdexcept>
#include <string>
#include <string_view>

#include "akidb/embed/error.hpp"

namespace akidb::embed::server {

// An error with the HTTP status and OpenAI-style type/code it is reported as.
// As with Error, message() is the whole message (what() ends at a NUL).
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, std::string code, const std::string& message)
      : std::runtime_error(message),
        message_(message),
        status_(status),
        type_(std::move(type)),
        code_(std::move(code)) {}

  const std::string& message() const noexcept { return message_; }
  int status() const noexcept { return status_; }
  const std::string& type() const noexcept { return type_; }
  const std::string& code() const noexcept { return code_; }

 private:
  std::string message_;
  int status_;
  std::string type_;
  std::string code_;
};

// 400: malformed JSON, wrong types, unsupported values.
inline ApiError bad_request(const std::string& message, std::string code = "invalid_request") {
  return {400, "invalid_request_error", std::move(code), message};
}
// 422: well-formed but unacceptable (empty list, too many inputs, out of range).
inline ApiError unprocessable(const std::string& message, std::string code = "invalid_value") {
  return {422, "invalid_request_error", std::move(code), message};
}

// InvalidInput 422, ModelError 500, Unavailable 503 (code "overloaded" when
// the queue is full), Timeout 504, Internal 500.
ApiError to_api_error(const Error& error);

// Which error body a route answers with: OpenAI's {"error": {...}} on /v1/*,
// TEI's {"error": "...", "error_type": "..."} on TEI's routes.
enum class ErrorStyle { OpenAi, Tei };

// An error as TEI reports it: its status code and error_type.
struct TeiError {
  int status;
  std::string_view error_type;  // empty, validation, tokenizer, backend, overloaded, unhealthy
};

// TEI's status codes: 400 empty batch, 413 batch too large, 422 tokenization
// (and other validation), 424 backend failure, 429 overloaded, 503 not ready.
TeiError to_tei_error(const ApiError& error) noexcept;

}  // namespace akidb::embed::server
