#include "tokenizer/unigram_config.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "akidb/embed/error.hpp"
#include "tokenizer/unicode.hpp"

namespace akidb::embed {
namespace {

using nlohmann::json;

std::string type_of(const json& node) {
  if (!node.is_object()) return "";
  const auto it = node.find("type");
  return it != node.end() && it->is_string() ? it->get<std::string>() : "";
}

std::vector<std::pair<std::string, double>> read_vocab(const json& model,
                                                       const std::string& origin) {
  const auto it = model.find("vocab");
  if (it == model.end() || !it->is_array()) {
    throw model_error(origin, "model.vocab: expected an array of [piece, score] pairs");
  }
  if (it->empty()) throw model_error(origin, "model.vocab: the Unigram vocabulary is empty");
  std::vector<std::pair<std::string, double>> pieces;
  pieces.reserve(it->size());
  for (const json& entry : *it) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_number()) {
      throw model_error(origin, "model.vocab[" + std::to_string(pieces.size()) +
                                    "]: expected [piece, score], got " + entry.dump());
    }
    pieces.emplace_back(entry[0].get<std::string>(), entry[1].get<double>());
  }
  return pieces;
}

std::int32_t read_unk_id(const json& model, std::size_t vocab_size, const std::string& origin) {
  const auto it = model.find("unk_id");
  if (it == model.end() || it->is_null()) return UnigramModel::kNoUnk;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
      it->get<std::int64_t>() >= static_cast<std::int64_t>(vocab_size)) {
    throw model_error(origin, "model.unk_id " + it->dump() + " is not an index of the " +
                                  std::to_string(vocab_size) + "-piece vocabulary");
  }
  return it->get<std::int32_t>();
}

ReplaceRule read_replace(const json& node, const std::string& origin) {
  ReplaceRule rule;
  const json& pattern = node.at("pattern");
  if (pattern.contains("String")) {
    rule.literal = pattern.at("String").get<std::string>();
    if (rule.literal.empty()) throw model_error(origin, "normalizer Replace: empty pattern");
  } else if (pattern.contains("Regex")) {
    const auto regex = pattern.at("Regex").get<std::string>();
    if (!parse_replace_regex(regex, rule)) {
      throw model_error(origin, "normalizer Replace: unsupported regex '" + regex +
                                    "' (only a literal, or one character with + or {n,})");
    }
  } else {
    throw model_error(origin, "normalizer Replace: pattern is neither String nor Regex");
  }
  rule.content = node.at("content").get<std::string>();
  return rule;
}

void add_normalizer(const json& node, TokenizerData& t, std::vector<NormalizerStep>& steps) {
  const std::string type = type_of(node);
  if (type == "Sequence") {
    for (const json& child : node.at("normalizers")) add_normalizer(child, t, steps);
  } else if (type == "Precompiled") {
    const json& map = node.at("precompiled_charsmap");
    if (!map.is_string()) {
      throw model_error(t.origin, "normalizer Precompiled.precompiled_charsmap: not a string");
    }
    steps.emplace_back(PrecompiledCharsmap::from_base64(map.get<std::string>(), t.origin));
  } else if (type == "Replace") {
    steps.emplace_back(read_replace(node, t.origin));
  } else if (type == "Strip") {
    steps.emplace_back(
        StripRule{node.value("strip_left", false), node.value("strip_right", false)});
  } else if (type == "Lowercase") {
    steps.emplace_back(LowercaseRule{});
  } else if (type == "NFKC") {
    steps.emplace_back(NfkcRule{});
  } else {
    throw model_error(t.origin, "unsupported normalizer '" + type +
                                    "' for Unigram (only Sequence, Precompiled, Replace, Strip, "
                                    "Lowercase, NFKC)");
  }
}

PrependScheme read_prepend_scheme(const json& node, const std::string& origin) {
  if (!node.contains("prepend_scheme")) {
    return node.value("add_prefix_space", true) ? PrependScheme::Always : PrependScheme::Never;
  }
  const auto scheme = node.at("prepend_scheme").get<std::string>();
  if (scheme == "always") return PrependScheme::Always;
  if (scheme == "first") return PrependScheme::First;
  if (scheme == "never") return PrependScheme::Never;
  throw model_error(origin, "pre_tokenizer Metaspace: unknown prepend_scheme '" + scheme + "'");
}

void load_metaspace(const json& node, TokenizerData& t) {
  MetaspaceConfig& m = t.unigram->metaspace;
  m.enabled = true;
  const std::string replacement = node.value("replacement", std::string("\u2581"));
  const auto* p = reinterpret_cast<const unsigned char*>(replacement.data());
  char32_t cp = 0;
  // nlohmann::json has validated the UTF-8, so decoding one character is safe.
  if (replacement.empty() || unicode::decode(p, cp) != replacement.size()) {
    throw model_error(t.origin, "pre_tokenizer Metaspace: replacement must be one character");
  }
  m.replacement = cp;
  m.replacement_utf8 = replacement;
  m.prepend = read_prepend_scheme(node, t.origin);
  m.split = node.value("split", true);
}

}  // namespace

void load_unigram_model(const json& model, TokenizerData& t) {
  const auto pieces = read_vocab(model, t.origin);
  const std::int32_t unk_id = read_unk_id(model, pieces.size(), t.origin);
  const json& byte_fallback = model.value("byte_fallback", json(false));
  if (!byte_fallback.is_boolean())
    throw model_error(t.origin, "model.byte_fallback: not a boolean");
  t.unigram = std::make_unique<UnigramPipeline>();
  t.unigram->model = UnigramModel(pieces, unk_id, byte_fallback.get<bool>());
  std::vector<std::pair<std::string, std::int32_t>> entries;
  entries.reserve(pieces.size());
  t.id_to_token.clear();
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    entries.emplace_back(pieces[id].first, static_cast<std::int32_t>(id));
    t.id_to_token.push_back(pieces[id].first);
  }
  t.vocab = VocabMap(entries);
  t.unk_id = unk_id;
  t.unk_token = unk_id >= 0 ? pieces[static_cast<std::size_t>(unk_id)].first : std::string();
}

void load_unigram_normalizer(const json& node, TokenizerData& t) {
  if (node.is_null()) return;
  add_normalizer(node, t, t.unigram->normalizers);
}

void load_unigram_pre_tokenizer(const json& node, TokenizerData& t) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "Metaspace") {
    load_metaspace(node, t);
    return;
  }
  if (type == "Sequence" && node.at("pretokenizers").size() == 1 &&
      type_of(node.at("pretokenizers").at(0)) == "Metaspace") {
    load_metaspace(node.at("pretokenizers").at(0), t);
    return;
  }
  throw model_error(t.origin,
                    "unsupported pre_tokenizer '" + type + "' for Unigram (only Metaspace)");
}

}  // namespace akidb::embed
