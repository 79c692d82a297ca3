#include "akidb/embed/manifest.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "akidb/embed/error.hpp"

namespace akidb::embed {
namespace {

constexpr const char* kManifestName = "akidb.json";

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw model_error(file.string(), "cannot open (missing model directory or manifest)");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw model_error(file.string(), std::string("corrupt JSON: ") + e.what());
  }
}

}  // namespace

const char* pooling_name(Pooling pooling) noexcept {
  switch (pooling) {
    case Pooling::Cls:
      return "cls";
    case Pooling::Max:
      return "max";
    case Pooling::MeanSqrtLen:
      return "mean_sqrt_len";
    case Pooling::Mean:
      break;
  }
  return "mean";
}

namespace {

Pooling parse_pooling(const std::string& mode, const std::filesystem::path& file) {
  if (mode == "mean") return Pooling::Mean;
  if (mode == "cls") return Pooling::Cls;
  if (mode == "max") return Pooling::Max;
  if (mode == "mean_sqrt_len") return Pooling::MeanSqrtLen;
  throw model_error(file.string(),
                    "pooling: unsupported '" + mode + "' (mean, cls, max or mean_sqrt_len)");
}

ModelManifest parse_manifest(const nlohmann::json& j, const std::filesystem::path& file) {
  ModelManifest m;
  m.name = j.at("name").get<std::string>();
  m.dimension = j.at("dimension").get<std::size_t>();
  m.max_seq_length = j.at("max_seq_length").get<std::size_t>();
  m.pooling = parse_pooling(j.value("pooling", std::string("mean")), file);
  m.include_prompt = j.value("include_prompt", true);
  m.normalize = j.value("normalize", true);
  // Manifests written before prompts existed have neither field.
  m.prompts = j.value("prompts", std::map<std::string, std::string>{});
  if (j.contains("default_prompt_name") && !j["default_prompt_name"].is_null())
    m.default_prompt_name = j["default_prompt_name"].get<std::string>();
  m.inputs = j.at("inputs").get<std::vector<std::string>>();
  m.output = j.at("output").get<std::string>();
  m.variants = j.at("variants").get<std::map<std::string, std::string>>();
  m.default_variant = j.value("default_variant", std::string("fp32"));
  m.tokenizer = j.value("tokenizer", std::string("tokenizer.json"));
  m.engines = j.value("engines", std::vector<std::string>{"onnx"});
  // Bind the object first: iterating items() of a temporary would dangle.
  const auto details_by_variant = j.value("variant_details", nlohmann::json::object());
  for (const auto& [variant, details] : details_by_variant.items()) {
    if (!details.is_object()) continue;
    if (!details.value("batch_invariant", true)) m.batch_dependent_variants.push_back(variant);
    if (details.contains("pooled_output")) {
      m.pooled_outputs[variant] = {details["pooled_output"].get<std::string>(),
                                   parse_pooling(details.value("pooling", "mean"), file)};
    }
  }

  return m;
}

void validate(const ModelManifest& m, const std::filesystem::path& file) {
  if (m.dimension == 0) throw model_error(file.string(), "dimension must be positive");
  if (m.max_seq_length < 2) throw model_error(file.string(), "max_seq_length must be at least 2");
  if (m.variants.empty()) throw model_error(file.string(), "no model variants listed");
  if (!m.variants.contains(m.default_variant))
    throw model_error(file.string(), "default_variant '" + m.default_variant + "' is not listed");
  if (m.default_prompt_name && !m.prompts.contains(*m.default_prompt_name))
    throw model_error(file.string(), "default_prompt_name '" + *m.default_prompt_name +
                                         "' is not one of the prompts");
  for (const auto& input : m.inputs) {
    if (input != "input_ids" && input != "attention_mask" && input != "token_type_ids")
      throw model_error(file.string(), "unsupported graph input '" + input + "'");
  }
}

}  // namespace

std::filesystem::path ModelManifest::model_file(const std::filesystem::path& dir,
                                                const std::string& variant) const {
  auto it = variants.find(variant);
  if (it == variants.end()) {
    std::string known;
    for (const auto& entry : variants) known += (known.empty() ? "" : ", ") + entry.first;
    throw model_error((dir / kManifestName).string(),
                      "unknown variant '" + variant + "' (available: " + known + ")");
  }
  return dir / it->second;
}

bool ModelManifest::batch_invariant(const std::string& variant) const {
  return std::find(batch_dependent_variants.begin(), batch_dependent_variants.end(), variant) ==
         batch_dependent_variants.end();
}

ModelManifest load_manifest(const std::filesystem::path& model_dir) {
  const auto file = model_dir / kManifestName;
  const auto json = read_json(file);
  ModelManifest manifest;
  try {
    manifest = parse_manifest(json, file);
  } catch (const nlohmann::json::exception& e) {
    throw model_error(file.string(), std::string("invalid manifest: ") + e.what());
  }
  validate(manifest, file);
  return manifest;
}

}  // namespace akidb::embed
