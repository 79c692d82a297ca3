// `akidb-embed info`: the model and runtime, as JSON.
#include <iostream>
#include <nlohmann/json.hpp>

#include "akidb/embed/version.hpp"
#include "cli/common.hpp"

namespace akidb::embed::cli {

void register_info(CLI::App& app) {
  auto options = std::make_shared<ModelOptions>();
  auto* cmd =
      app.add_subcommand("info", "print the model's info (name, dimension, max tokens, backend)");
  add_model_options(*cmd, *options);
  cmd->callback([options] {
    auto provider = make_provider(*options);
    const auto info = provider->model_info();
    const nlohmann::json j = {{"model", info.model},
                              {"dimension", info.dimension},
                              {"max_tokens", info.max_tokens},
                              {"backend", info.backend},
                              {"engine", info.backend},
                              {"device", info.device},
                              {"execution_provider", info.execution_provider},
                              {"variant", info.variant},
                              {"onnxruntime", onnxruntime_version()},
                              {"version", version_string}};
    std::cout << j.dump(2) << '\n';
  });
}

}  // namespace akidb::embed::cli
