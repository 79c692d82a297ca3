#include "cli/serve_models.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "akidb/embed/error.hpp"

namespace akidb::embed::cli {
namespace {

using nlohmann::json;

ServeModel from_flag(const std::string& value, const ProviderOptions& base) {
  ServeModel m;
  m.provider = base;
  m.origin = "--model " + value;
  const auto eq = value.find('=');
  m.provider.model_dir = eq == std::string::npos ? value : value.substr(eq + 1);
  if (eq != std::string::npos) m.name = value.substr(0, eq);
  if (eq != std::string::npos && (m.name.empty() || m.provider.model_dir.empty())) {
    throw Error(ErrorCode::ModelError,
                "--model '" + value + "': write DIR or NAME=DIR (both non-empty)");
  }
  return m;
}

class Entry {
 public:
  Entry(const json& j, std::string where) : j_(j), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& why) const {
    throw Error(ErrorCode::ModelError, where_ + "." + field + ": " + why);
  }
  template <class T>
  std::optional<T> get(const std::string& field, const char* what) const {
    const auto it = j_.find(field);
    if (it == j_.end()) return std::nullopt;
    try {
      return it->get<T>();
    } catch (const json::exception&) {
      fail(field, std::string("must be ") + what + ", not " + it->dump());
    }
  }
  std::optional<std::size_t> count(const std::string& field) const {
    const auto it = j_.find(field);
    if (it != j_.end() && !it->is_number_unsigned()) {
      fail(field, "must be a non-negative integer, not " + it->dump());
    }
    return get<std::size_t>(field, "a non-negative integer");
  }
  const std::string& where() const { return where_; }

 private:
  const json& j_;
  std::string where_;
};

constexpr std::array<std::string_view, 11> kFields = {"path",
                                                      "name",
                                                      "engine",
                                                      "variant",
                                                      "device",
                                                      "threads",
                                                      "max_queue",
                                                      "max_batch_tokens",
                                                      "workers",
                                                      "max_batch_sequences",
                                                      "express_max_tokens"};

std::optional<SchedulerOptions> scheduling_of(const Entry& e, const SchedulerOptions& base) {
  SchedulerOptions s = base;
  bool any = false;
  const auto take = [&](const char* field, std::size_t& target) {
    if (const auto v = e.count(field)) {
      target = *v;
      any = true;
    }
  };
  take("max_queue", s.max_queue);
  take("max_batch_tokens", s.max_batch_tokens);
  take("max_batch_sequences", s.max_batch_sequences);
  take("express_max_tokens", s.express_max_tokens);
  take("workers", s.workers);
  if (s.workers == 0) e.fail("workers", "must be at least 1");
  if (any) return s;
  return std::nullopt;
}

ServeModel from_entry(const json& j, const std::string& where, const std::filesystem::path& dir,
                      const ProviderOptions& base, const SchedulerOptions& scheduling) {
  if (!j.is_object()) throw Error(ErrorCode::ModelError, where + ": must be an object");
  const Entry e(j, where);
  for (const auto& [key, value] : j.items()) {
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end()) {
      e.fail(key,
             "unknown field (known: path, name, engine, variant, device, threads, "
             "max_queue, max_batch_tokens, max_batch_sequences, express_max_tokens, workers)");
    }
  }
  ServeModel m;
  m.origin = where;
  m.provider = base;
  const auto path = e.get<std::string>("path", "a string");
  if (!path || path->empty()) e.fail("path", "is required (the model directory)");
  const std::filesystem::path p(*path);
  m.provider.model_dir = p.is_absolute() ? p : dir / p;
  m.name = e.get<std::string>("name", "a string").value_or("");
  m.provider.engine = e.get<std::string>("engine", "a string").value_or(base.engine);
  m.provider.variant = e.get<std::string>("variant", "a string").value_or(base.variant);
  m.provider.device = e.get<std::string>("device", "a string").value_or(base.device);
  if (const auto threads = e.count("threads")) m.provider.threads = static_cast<int>(*threads);
  m.scheduling = scheduling_of(e, scheduling);
  return m;
}

std::vector<ServeModel> from_file(const std::string& file, const ProviderOptions& base,
                                  const SchedulerOptions& scheduling) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorCode::ModelError, "--models-file " + file + ": cannot be read");
  json doc;
  try {
    doc = json::parse(in);
  } catch (const json::parse_error& e) {
    throw Error(ErrorCode::ModelError, "--models-file " + file + ": not JSON (" + e.what() + ")");
  }
  const json* list = &doc;
  if (doc.is_object() && doc.contains("models")) list = &doc["models"];
  if (!list->is_array() || list->empty()) {
    throw Error(ErrorCode::ModelError,
                "--models-file " + file +
                    ": must be {\"models\": [{\"path\": DIR, ...}, ...]} with at least one model");
  }
  const auto dir = std::filesystem::path(file).parent_path();
  std::vector<ServeModel> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    out.push_back(from_entry((*list)[i], file + ": models[" + std::to_string(i) + "]", dir, base,
                             scheduling));
  }
  return out;
}

}  // namespace

std::vector<ServeModel> serve_models(const std::vector<std::string>& flags,
                                     const std::string& models_file, const ProviderOptions& base,
                                     const SchedulerOptions& scheduling,
                                     const std::string& default_dir) {
  std::vector<ServeModel> out;
  for (const auto& flag : flags) out.push_back(from_flag(flag, base));
  if (!models_file.empty()) {
    for (auto& m : from_file(models_file, base, scheduling)) out.push_back(std::move(m));
  }
  if (out.empty()) out.push_back(from_flag(default_dir, base));
  return out;
}

}  // namespace akidb::embed::cli
