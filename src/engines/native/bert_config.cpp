#include "bert_config.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "akidb/embed/error.hpp"

namespace akidb::embed::native {
namespace {

std::size_t positive(const nlohmann::json& j, const char* key, const std::string& origin) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer() || it->get<long long>() <= 0)
    throw model_error(origin, std::string("missing or invalid '") + key + "'");
  return it->get<std::size_t>();
}

long long integer_or(const nlohmann::json& j, const char* key, long long fallback,
                     const std::string& origin) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (!it->is_number_integer())
    throw model_error(origin, std::string("'") + key + "' is not an integer");
  return it->get<long long>();
}

Family parse_family(const nlohmann::json& j, const std::string& origin) {
  const auto type = j.value("model_type", std::string("bert"));
  if (type == "bert") return Family::Bert;
  if (type == "xlm-roberta" || type == "roberta") return Family::Roberta;
  if (type == "mpnet") return Family::MPNet;
  throw model_error(
      origin, "model_type '" + type + "' is not supported (bert, xlm-roberta, roberta, mpnet)");
}

// MPNet: no token types (one row of zeros stands in), padding_idx fixed at 1
// in MPNetEmbeddings, 32 buckets unless config.json says otherwise.
void read_family_fields(const nlohmann::json& j, const std::string& origin, BertConfig& c) {
  if (c.family == Family::MPNet) {
    c.type_vocab_size = 1;
    c.pad_token_id = 1;
    const auto buckets = integer_or(j, "relative_attention_num_buckets", 32, origin);
    if (buckets < 4 || buckets % 4 != 0)
      throw model_error(origin, "relative_attention_num_buckets must be a positive multiple of 4");
    c.relative_attention_buckets = static_cast<std::size_t>(buckets);
    return;
  }
  c.type_vocab_size = positive(j, "type_vocab_size", origin);
  if (c.family == Family::Roberta) {
    const auto pad = integer_or(j, "pad_token_id", 1, origin);
    if (pad < 0 || pad > 1'000'000) throw model_error(origin, "pad_token_id is out of range");
    c.pad_token_id = static_cast<std::int32_t>(pad);
  }
}

}  // namespace

BertConfig parse_bert_config(std::string_view json, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw model_error(origin, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) throw model_error(origin, "not a JSON object");
  if (j.value("hidden_act", std::string("gelu")) != "gelu")
    throw model_error(origin, "hidden_act '" + j.value("hidden_act", std::string()) +
                                  "' is not supported (only gelu)");
  if (j.value("position_embedding_type", std::string("absolute")) != "absolute")
    throw model_error(origin, "only absolute position embeddings are supported");
  BertConfig c;
  c.family = parse_family(j, origin);
  c.hidden_size = positive(j, "hidden_size", origin);
  c.num_layers = positive(j, "num_hidden_layers", origin);
  c.num_heads = positive(j, "num_attention_heads", origin);
  c.intermediate_size = positive(j, "intermediate_size", origin);
  c.max_position_embeddings = positive(j, "max_position_embeddings", origin);
  read_family_fields(j, origin, c);
  c.vocab_size = positive(j, "vocab_size", origin);
  c.layer_norm_eps = j.value("layer_norm_eps", 1e-12f);
  if (c.hidden_size % c.num_heads != 0)
    throw model_error(origin, "hidden_size is not a multiple of num_attention_heads");
  if (c.max_tokens() == 0) throw model_error(origin, "max_position_embeddings leaves no positions");
  return c;
}

BertConfig load_bert_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw model_error(path.string(), "cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_bert_config(text.str(), path.string());
}

}  // namespace akidb::embed::native
