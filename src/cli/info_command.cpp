// `akidb-embed info`: the model and runtime, as JSON.
#include <iostream>
#include <nlohmann/json.hpp>

#include "akidb/embed/manifest.hpp"
#include "cli/common.hpp"
#include "core/model_info_json.hpp"

namespace akidb::embed::cli {
namespace {

// How the model pools and which prompts it knows (from its akidb.json).
nlohmann::json pooling_and_prompts(const ModelManifest& m) {
  return {{"pooling", pooling_name(m.pooling)},
          {"include_prompt", m.include_prompt},
          {"normalize", m.normalize},
          {"prompts", m.prompts},
          {"default_prompt_name", m.default_prompt_name ? nlohmann::json(*m.default_prompt_name)
                                                        : nlohmann::json(nullptr)}};
}

}  // namespace

void register_info(CLI::App& app) {
  auto options = std::make_shared<ModelOptions>();
  auto* cmd =
      app.add_subcommand("info", "print the model's info (name, dimension, max tokens, backend)");
  add_model_options(*cmd, *options);
  cmd->callback([options] {
    auto provider = make_provider(*options);
    const auto info = provider->model_info();
    nlohmann::json j = {{"model", info.model},
                        {"dimension", info.dimension},
                        {"max_tokens", info.max_tokens},
                        {"onnxruntime", onnxruntime_version()}};
    j.update(runtime_json(info));
    j.update(pooling_and_prompts(load_manifest(options->provider.model_dir)));
    std::cout << j.dump(2) << '\n';
  });
}

}  // namespace akidb::embed::cli
