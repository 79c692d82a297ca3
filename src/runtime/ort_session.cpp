#include "runtime/ort_session.hpp"

#include <onnxruntime_cxx_api.h>

#include <array>

#include "akidb/embed/error.hpp"

namespace akidb::embed::runtime {
namespace {

GraphOptimizationLevel to_ort(GraphOptimization level) {
  switch (level) {
    case GraphOptimization::Disabled:
      return ORT_DISABLE_ALL;
    case GraphOptimization::Basic:
      return ORT_ENABLE_BASIC;
    case GraphOptimization::Extended:
      return ORT_ENABLE_EXTENDED;
    case GraphOptimization::All:
      return ORT_ENABLE_ALL;
  }
  return ORT_ENABLE_ALL;
}

Ort::SessionOptions make_options(const SessionConfig& config) {
  Ort::SessionOptions options;
  options.SetIntraOpNumThreads(config.intra_op_threads);
  options.SetInterOpNumThreads(1);
  options.SetExecutionMode(ORT_SEQUENTIAL);
  options.SetGraphOptimizationLevel(to_ort(config.optimization));
  options.AddConfigEntry("session.intra_op.allow_spinning", config.allow_spinning ? "1" : "0");
  if (!config.profile_prefix.empty()) options.EnableProfiling(config.profile_prefix.c_str());
  return options;
}

std::vector<std::string> names_of(const Ort::Session& session, bool inputs) {
  Ort::AllocatorWithDefaultOptions allocator;
  const std::size_t count = inputs ? session.GetInputCount() : session.GetOutputCount();
  std::vector<std::string> names;
  for (std::size_t i = 0; i < count; ++i) {
    auto name = inputs ? session.GetInputNameAllocated(i, allocator)
                       : session.GetOutputNameAllocated(i, allocator);
    names.emplace_back(name.get());
  }
  return names;
}

}  // namespace

struct Session::Impl {
  Ort::Env env{ORT_LOGGING_LEVEL_WARNING, "akidb-embed"};
  Ort::Session session{nullptr};
  Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
};

Session::Session(const std::filesystem::path& model_file, const SessionConfig& config)
    : impl_(std::make_unique<Impl>()) {
  impl_->env.DisableTelemetryEvents();
  if (!std::filesystem::exists(model_file))
    throw model_error(model_file.string(), "model file not found");
  try {
    impl_->session = Ort::Session(impl_->env, model_file.c_str(), make_options(config));
  } catch (const Ort::Exception& e) {
    throw model_error(model_file.string(), std::string("cannot load ONNX model: ") + e.what());
  }
  impl_->inputs = names_of(impl_->session, true);
  impl_->outputs = names_of(impl_->session, false);
}

Session::~Session() = default;

const std::vector<std::string>& Session::input_names() const noexcept { return impl_->inputs; }
const std::vector<std::string>& Session::output_names() const noexcept { return impl_->outputs; }

std::int64_t Session::output_last_dim(const std::string& output) const {
  for (std::size_t i = 0; i < impl_->outputs.size(); ++i) {
    if (impl_->outputs[i] != output) continue;
    auto shape = impl_->session.GetOutputTypeInfo(i).GetTensorTypeAndShapeInfo().GetShape();
    return shape.empty() ? -1 : shape.back();
  }
  return -1;
}

void Session::run(std::span<const InputTensor> inputs, std::int64_t batch, std::int64_t seq,
                  const std::string& output_name, std::span<float> output,
                  std::span<const std::int64_t> out_shape) const {
  const std::array<std::int64_t, 2> in_shape{batch, seq};
  if (inputs.size() > kMaxInputs) throw Error(ErrorCode::Internal, "too many graph inputs");
  std::array<Ort::Value, kMaxInputs> values{Ort::Value{nullptr}, Ort::Value{nullptr},
                                            Ort::Value{nullptr}};
  std::array<const char*, kMaxInputs> names{};
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    values[i] = Ort::Value::CreateTensor<std::int64_t>(impl_->memory, inputs[i].data.data(),
                                                       inputs[i].data.size(), in_shape.data(),
                                                       in_shape.size());
    names[i] = inputs[i].name;
  }
  auto out = Ort::Value::CreateTensor<float>(impl_->memory, output.data(), output.size(),
                                             out_shape.data(), out_shape.size());
  const char* out_name = output_name.c_str();
  try {
    impl_->session.Run(Ort::RunOptions{nullptr}, names.data(), values.data(), inputs.size(),
                       &out_name, &out, 1);
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::Internal, std::string("inference failed: ") + e.what());
  }
}

std::string Session::end_profiling() {
  Ort::AllocatorWithDefaultOptions allocator;
  return impl_->session.EndProfilingAllocated(allocator).get();
}

std::string onnxruntime_version() { return Ort::GetVersionString(); }

}  // namespace akidb::embed::runtime
