#pragma once
// Which models `akidb-embed serve` loads: each --model (DIR, or NAME=DIR to
// give it another public name), then each entry of --models-file. The first
// is the default model (docs/server.md, "Several models").
#include <optional>
#include <string>
#include <vector>

#include "akidb/embed/factory.hpp"
#include "akidb/embed/scheduler.hpp"

namespace akidb::embed::cli {

struct ServeModel {
  std::string name;    // the public id; "": the manifest's name
  std::string origin;  // where it was asked for, for messages: "--model DIR", "FILE: models[1]"
  ProviderOptions provider;
  std::optional<SchedulerOptions> scheduling;  // its own budget; none: the serve flags'
};

// `flags` are the --model values, `models_file` the --models-file path ("" none),
// `base` the engine flags every model starts from. With neither, `default_dir`
// alone. Throws Error(ModelError) naming the file and field for a bad models file.
std::vector<ServeModel> serve_models(const std::vector<std::string>& flags,
                                     const std::string& models_file, const ProviderOptions& base,
                                     const SchedulerOptions& scheduling,
                                     const std::string& default_dir);

}  // namespace akidb::embed::cli
