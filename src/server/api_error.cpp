#include "server/api_error.hpp"

namespace akidb::embed::server {

TeiError to_tei_error(const ApiError& error) noexcept {
  const std::string& code = error.code();
  if (code == "empty_input") return {400, "empty"};
  if (code == "too_many_inputs") return {413, "validation"};
  if (code == "overloaded") return {429, "overloaded"};
  if (code == "invalid_input") return {422, "tokenizer"};  // the tokenizer's or admission's refusal
  if (code == "model_error") return {424, "backend"};
  switch (error.status()) {
    case 503:
      return {503, "unhealthy"};
    case 504:
      return {504, "overloaded"};
    default:
      break;
  }
  if (error.status() >= 500) return {error.status(), "backend"};
  return {error.status(), "validation"};
}

}  // namespace akidb::embed::server
