#include "akidb/embed/onnx_provider.hpp"

#include <memory>

#include "engines/onnx/onnx_engine.hpp"

namespace akidb::embed {
namespace {

std::unique_ptr<OnnxEngine> make_engine(const LoadedModel& model, const OnnxProviderOptions& o) {
  OnnxEngineConfig config;
  static_cast<GraphConfig&>(config) = graph_config(model);
  config.fixed_padding = o.fixed_padding;
  config.session = {o.intra_op_threads, o.allow_spinning, o.optimization, o.profile_prefix};
  return std::make_unique<OnnxEngine>(std::move(config));
}

PipelineParts onnx_parts(const OnnxProviderOptions& o) {
  auto model = LoadedModel::load(o.model_dir, o.variant);
  auto engine = make_engine(model, o);
  return {std::move(model), std::move(engine)};
}

}  // namespace

OnnxProvider::OnnxProvider(const OnnxProviderOptions& options)
    : EmbeddingPipeline(onnx_parts(options), options.pipeline) {}

std::string onnxruntime_version() { return runtime::onnxruntime_version(); }

std::string OnnxProvider::end_profiling() {
  return static_cast<OnnxEngine&>(engine()).end_profiling();
}

}  // namespace akidb::embed
