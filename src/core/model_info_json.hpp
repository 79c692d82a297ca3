#pragma once
// What runs the model, as `akidb-embed info` and GET /info both report it.
#include <nlohmann/json.hpp>

#include "akidb/embed/types.hpp"
#include "akidb/embed/version.hpp"

namespace akidb::embed {

inline nlohmann::json runtime_json(const ModelInfo& info) {
  return {{"backend", info.backend},  {"engine", info.backend},
          {"device", info.device},    {"execution_provider", info.execution_provider},
          {"variant", info.variant},  {"pooled_on", info.pooled_on},
          {"version", version_string}};
}

}  // namespace akidb::embed
