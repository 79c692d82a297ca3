// Tokenizer::decode: ids back to text with tokenizer.json's decoder, as HF
// tokenizers' decode() does (tokenizers/src/decoders/{wordpiece,metaspace}.rs).
#include <string_view>
#include <vector>

#include "tokenizer/decoder.hpp"

#include "akidb/embed/error.hpp"

namespace akidb::embed {
namespace {

// Every `from` in s replaced by `to` (into a new string: GCC 12 warns,
// wrongly, about std::string::replace in place).
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (s.find(from) == std::string::npos) return;
  std::string out;
  std::size_t start = 0;
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, start)) {
    out.append(s, start, pos - start);
    out += to;
    start = pos + from.size();
  }
  out.append(s, start);
  s = std::move(out);
}

// The WordPiece decoder's cleanup (tokenizers' decoders::wordpiece::cleanup).
void cleanup(std::string& token) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) replace_all(token, from, to);
}

std::string decode_wordpiece(const DecoderConfig& d, const std::vector<std::string_view>& tokens) {
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string token(tokens[i]);
    if (i != 0) {
      if (token.starts_with(d.prefix)) {
        token.erase(0, d.prefix.size());
      } else {
        token = " " + token;
      }
    }
    if (d.cleanup) cleanup(token);
    out += token;
  }
  return out;
}

std::string decode_metaspace(const DecoderConfig& d, const std::vector<std::string_view>& tokens) {
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string token(tokens[i]);
    replace_all(token, d.replacement, " ");
    if (i == 0 && d.strip_leading_space && token.starts_with(' ')) token.erase(0, 1);
    out += token;
  }
  return out;
}

std::string join_with_spaces(const std::vector<std::string_view>& tokens) {
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i) out.push_back(' ');
    out += tokens[i];
  }
  return out;
}

}  // namespace

std::string decode_ids(const TokenizerData& t, std::span<const std::int32_t> ids,
                       bool skip_special_tokens) {
  const DecoderConfig& d = t.decoder;
  if (d.kind == DecoderConfig::Kind::Unsupported) {
    throw model_error(t.origin, "decoding with a '" + d.type + "' decoder is not supported " +
                                    "(only WordPiece and Metaspace)");
  }
  std::vector<std::string_view> tokens;
  tokens.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool known = ids[i] >= 0 && static_cast<std::size_t>(ids[i]) < t.id_to_token.size();
    if (!known) {
      throw Error(ErrorCode::InvalidInput, "token id " + std::to_string(ids[i]) + " at position " +
                                               std::to_string(i) +
                                               " is outside the vocabulary [0, " +
                                               std::to_string(t.id_to_token.size()) + ")");
    }
    if (skip_special_tokens && is_special_token(t, ids[i])) continue;
    tokens.push_back(t.id_to_token[static_cast<std::size_t>(ids[i])]);
  }
  switch (d.kind) {
    case DecoderConfig::Kind::WordPiece:
      return decode_wordpiece(d, tokens);
    case DecoderConfig::Kind::Metaspace:
      return decode_metaspace(d, tokens);
    default:
      return join_with_spaces(tokens);
  }
}

bool is_special_token(const TokenizerData& t, std::int32_t id) noexcept {
  for (const auto& a : t.added) {
    if (a.id == id) return a.special;
  }
  return false;
}

}  // namespace akidb::embed
