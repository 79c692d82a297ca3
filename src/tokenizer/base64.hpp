#pragma once
// Standard base64 (RFC 4648, '=' padding) decoding for tokenizer.json blobs.
#include <optional>
#include <string>
#include <string_view>

namespace akidb::embed {

// Returns the decoded bytes, or nullopt when `text` is not valid base64.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace akidb::embed
