// Loading tokenizer.json into TokenizerData.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "akidb/embed/error.hpp"
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/unigram_config.hpp"

namespace akidb::embed {
namespace {

using nlohmann::json;

std::string type_of(const json& node) {
  if (!node.is_object()) return "";
  const auto it = node.find("type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

void load_model(const json& model, TokenizerData& t) {
  const std::string type = type_of(model);
  if (type == "Unigram") {
    load_unigram_model(model, t);
    return;
  }
  if (type != "WordPiece") {
    throw model_error(t.origin, "unsupported tokenizer model type '" +
                                    (type.empty() ? std::string("none") : type) +
                                    "' (only WordPiece, Unigram)");
  }
  t.unk_token = model.value("unk_token", std::string("[UNK]"));
  t.prefix = model.value("continuing_subword_prefix", std::string("##"));
  t.max_word_chars = model.value("max_input_chars_per_word", std::size_t{100});
  std::vector<std::pair<std::string, std::int32_t>> all, continuation;
  for (const auto& [token, id_node] : model.at("vocab").items()) {
    const auto id = id_node.get<std::int32_t>();
    if (id < 0) throw model_error(t.origin, "negative id for token '" + token + "'");
    all.emplace_back(token, id);
    if (token.size() > t.prefix.size() && token.starts_with(t.prefix)) {
      continuation.emplace_back(token.substr(t.prefix.size()), id);
    }
    if (t.id_to_token.size() <= static_cast<std::size_t>(id)) t.id_to_token.resize(id + 1);
    t.id_to_token[id] = token;
  }
  t.vocab = VocabMap(all);
  t.continuation = VocabMap(continuation);
  t.unk_id = t.vocab.find(t.unk_token);
  if (t.unk_id == VocabMap::kMissing) {
    throw model_error(t.origin, "unk_token '" + t.unk_token + "' is not in the vocabulary");
  }
}

void load_normalizer(const json& node, TokenizerData& t) {
  if (t.unigram) {
    load_unigram_normalizer(node, t);
    return;
  }
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type != "BertNormalizer") {
    throw model_error(t.origin, "unsupported normalizer '" + type + "' (only BertNormalizer)");
  }
  t.clean_text = node.value("clean_text", true);
  t.handle_chinese_chars = node.value("handle_chinese_chars", true);
  t.lowercase = node.value("lowercase", true);
  const auto strip = node.find("strip_accents");
  t.strip_accents = (strip == node.end() || strip->is_null()) ? t.lowercase : strip->get<bool>();
}

void load_pre_tokenizer(const json& node, TokenizerData& t) {
  if (t.unigram) {
    load_unigram_pre_tokenizer(node, t);
    return;
  }
  const std::string type = type_of(node);
  if (type != "BertPreTokenizer") {
    throw model_error(t.origin, "unsupported pre_tokenizer '" + type + "' (only BertPreTokenizer)");
  }
}

void add_special(const json& specials, const std::string& name, std::int32_t type_id,
                 std::vector<SpecialPiece>& out, const TokenizerData& t) {
  if (!specials.contains(name)) {
    throw model_error(t.origin, "post_processor special token '" + name + "' is not defined");
  }
  for (const auto& id : specials.at(name).at("ids")) {
    out.push_back({id.get<std::int32_t>(), type_id});
  }
}

void load_template(const json& node, TokenizerData& t) {
  const json& specials = node.value("special_tokens", json::object());
  bool seen_sequence = false;
  for (const auto& piece : node.at("single")) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
      t.sequence_type_id = piece.at("Sequence").value("type_id", 0);
      continue;
    }
    const json& special = piece.at("SpecialToken");
    add_special(specials, special.at("id").get<std::string>(), special.value("type_id", 0),
                seen_sequence ? t.after : t.before, t);
  }
}

void load_post_processor(const json& node, TokenizerData& t) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "TemplateProcessing") {
    load_template(node, t);
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    t.before.push_back({node.at("cls").at(1).get<std::int32_t>(), 0});
    t.after.push_back({node.at("sep").at(1).get<std::int32_t>(), 0});
    if (type == "RobertaProcessing") {
      t.trim_offsets = node.value("trim_offsets", true);
      t.add_prefix_space = node.value("add_prefix_space", true);
    }
  } else {
    throw model_error(t.origin,
                      "unsupported post_processor '" + type +
                          "' (only TemplateProcessing, BertProcessing, RobertaProcessing)");
  }
  if (!t.before.empty()) t.cls_id = t.before.front().id;
  if (!t.after.empty()) t.sep_id = t.after.front().id;
}

void load_added_tokens(const json& node, TokenizerData& t) {
  if (!node.is_array()) return;
  for (const auto& token : node) {
    AddedToken added{token.at("content").get<std::string>(), token.at("id").get<std::int32_t>(),
                     token.value("lstrip", false), token.value("rstrip", false),
                     token.value("special", false)};
    if (added.content.empty()) continue;
    t.added_first_byte[static_cast<unsigned char>(added.content[0])] = true;
    t.added.push_back(std::move(added));
  }
  std::stable_sort(t.added.begin(), t.added.end(), [](const AddedToken& a, const AddedToken& b) {
    return a.content.size() > b.content.size();
  });
}

void load_decoder(const json& node, TokenizerData& t) {
  DecoderConfig& d = t.decoder;
  if (!node.is_object()) return;
  d.type = node.value("type", std::string());
  if (d.type == "WordPiece") {
    d.kind = DecoderConfig::Kind::WordPiece;
    d.prefix = node.value("prefix", std::string("##"));
    d.cleanup = node.value("cleanup", true);
  } else if (d.type == "Metaspace") {
    d.kind = DecoderConfig::Kind::Metaspace;
    d.replacement = node.value("replacement", std::string("\u2581"));
    d.strip_leading_space = node.value("prepend_scheme", std::string("always")) != "never" &&
                            node.value("add_prefix_space", true);
  } else {
    d.kind = DecoderConfig::Kind::Unsupported;
  }
}

void load_truncation_padding(const json& root, TokenizerData& t) {
  const json& truncation = root.value("truncation", json());
  if (truncation.is_object()) {
    if (truncation.value("direction", std::string("Right")) != "Right") {
      throw model_error(t.origin, "unsupported truncation direction (only Right)");
    }
    const json& max_length = truncation.value("max_length", json());
    if (max_length.is_number_unsigned()) t.truncation_max_length = max_length.get<std::size_t>();
  }
  const json& padding = root.value("padding", json());
  if (padding.is_object() && padding.contains("pad_id")) {
    t.pad_id = padding.at("pad_id").get<std::int32_t>();
  } else if (const auto id = t.vocab.find(t.unigram ? "<pad>" : "[PAD]");
             id != VocabMap::kMissing) {
    t.pad_id = id;
  }
}

void fill_defaults(TokenizerData& t) {
  if (t.cls_id < 0) t.cls_id = t.vocab.find(t.unigram ? "<s>" : "[CLS]");
  if (t.sep_id < 0) t.sep_id = t.vocab.find(t.unigram ? "</s>" : "[SEP]");
  for (std::size_t c = 0; c < t.ascii_flags.size(); ++c) {
    t.ascii_flags[c] = unicode::flags(static_cast<char32_t>(c));
  }
}

}  // namespace

TokenizerData parse_tokenizer_json(std::string_view text, const std::string& origin) {
  TokenizerData t;
  t.origin = origin;
  try {
    const json root = json::parse(text);
    if (!root.is_object() || !root.contains("model")) {
      throw model_error(origin, "not a tokenizer.json (no 'model')");
    }
    load_model(root.at("model"), t);
    load_normalizer(root.value("normalizer", json()), t);
    load_pre_tokenizer(root.value("pre_tokenizer", json()), t);
    load_post_processor(root.value("post_processor", json()), t);
    load_added_tokens(root.value("added_tokens", json()), t);
    load_decoder(root.value("decoder", json()), t);
    load_truncation_padding(root, t);
    fill_defaults(t);
  } catch (const json::exception& e) {
    throw model_error(origin, std::string("invalid tokenizer.json: ") + e.what());
  }
  return t;
}

}  // namespace akidb::embed
