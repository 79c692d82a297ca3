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

}  // namespace

BertConfig parse_bert_config(std::string_view json, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw model_error(origin, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) throw model_error(origin, "not a JSON object");
  if (j.value("model_type", std::string("bert")) != "bert")
    throw model_error(origin, "model_type is not 'bert'");
  if (j.value("hidden_act", std::string("gelu")) != "gelu")
    throw model_error(origin, "hidden_act '" + j.value("hidden_act", std::string()) +
                                  "' is not supported (only gelu)");
  if (j.value("position_embedding_type", std::string("absolute")) != "absolute")
    throw model_error(origin, "only absolute position embeddings are supported");
  BertConfig c;
  c.hidden_size = positive(j, "hidden_size", origin);
  c.num_layers = positive(j, "num_hidden_layers", origin);
  c.num_heads = positive(j, "num_attention_heads", origin);
  c.intermediate_size = positive(j, "intermediate_size", origin);
  c.max_position_embeddings = positive(j, "max_position_embeddings", origin);
  c.type_vocab_size = positive(j, "type_vocab_size", origin);
  c.vocab_size = positive(j, "vocab_size", origin);
  c.layer_norm_eps = j.value("layer_norm_eps", 1e-12f);
  if (c.hidden_size % c.num_heads != 0)
    throw model_error(origin, "hidden_size is not a multiple of num_attention_heads");
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
