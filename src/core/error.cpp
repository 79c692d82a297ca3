#include "akidb/embed/error.hpp"

#include <string>

namespace akidb::embed {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidInput:
      return "invalid_input";
    case ErrorCode::ModelError:
      return "model_error";
    case ErrorCode::Unavailable:
      return "unavailable";
    case ErrorCode::Timeout:
      return "timeout";
    case ErrorCode::Internal:
      return "internal";
  }
  return "internal";
}

Error invalid_input(std::size_t index, std::string_view what) {
  return Error(ErrorCode::InvalidInput, "input " + std::to_string(index) + ": " + std::string(what),
               index);
}

Error invalid_request(std::string_view what) {
  return Error(ErrorCode::InvalidInput, std::string(what));
}

Error model_error(std::string_view file, std::string_view what) {
  return Error(ErrorCode::ModelError, std::string(file) + ": " + std::string(what));
}

}  // namespace akidb::embed
