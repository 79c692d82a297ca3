#include "engines/graph_config.hpp"

namespace akidb::embed {

GraphConfig graph_config(const LoadedModel& model) {
  const auto& m = model.manifest;
  GraphConfig graph;
  graph.model_file = m.model_file(model.dir, model.variant);
  graph.inputs = m.inputs;
  graph.output = m.output;
  graph.dimension = m.dimension;
  graph.pad_id = model.tokenizer.pad_id();
  graph.batch_invariant = m.batch_invariant(model.variant);
  if (auto it = m.pooled_outputs.find(model.variant); it != m.pooled_outputs.end())
    graph.pooled = it->second;
  return graph;
}

}  // namespace akidb::embed
