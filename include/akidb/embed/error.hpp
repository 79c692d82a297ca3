#pragma once
// Typed errors shared by every part of akidb-embed.
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace akidb::embed {

enum class ErrorCode {
  InvalidInput,  // bad request content; names the offending input index
  ModelError,    // missing or corrupt model files; names the file
  Unavailable,   // overloaded, not ready, backend process down
  Timeout,       // the request did not finish in time
  Internal,      // a bug or an unexpected runtime failure
};

std::string_view to_string(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message,
        std::optional<std::size_t> input_index = std::nullopt)
      : std::runtime_error(message), code_(code), input_index_(input_index) {}

  ErrorCode code() const noexcept { return code_; }
  // For InvalidInput: the index of the input that caused the error, if any.
  std::optional<std::size_t> input_index() const noexcept { return input_index_; }

 private:
  ErrorCode code_;
  std::optional<std::size_t> input_index_;
};

// Convenience constructors that keep messages uniform.
Error invalid_input(std::size_t index, std::string_view what);
Error invalid_request(std::string_view what);  // InvalidInput not tied to one input
Error model_error(std::string_view file, std::string_view what);

}  // namespace akidb::embed
