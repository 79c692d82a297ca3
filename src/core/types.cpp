#include "akidb/embed/types.hpp"

#include <utility>

namespace akidb::embed {

std::size_t EmbedRequest::size() const noexcept {
  return std::visit([](const auto& items) { return items.size(); }, inputs);
}

EmbedRequest EmbedRequest::from_texts(std::vector<std::string> texts) {
  EmbedRequest request;
  request.inputs = std::move(texts);
  return request;
}

}  // namespace akidb::embed
