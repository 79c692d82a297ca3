// The device layer: the CUDA runtime probe, the run-time device policy
// (DeviceGuard), and the CUDA engine's loading and IoBinding code on the GPU
// build of ONNX Runtime (its CPU execution provider, where no GPU is present;
// run when AKIDB_CUDA_DIR holds `make setup-cuda`'s directory).
#include <cstdlib>
#include <fstream>

#include "akidb/embed/factory.hpp"
#include "devices/cuda_probe.hpp"
#include "engines/cuda/cuda_engine.hpp"
#include "engines/device_guard.hpp"
#include "engines/onnx/onnx_engine.hpp"
#include "test_support.hpp"

namespace akidb::embed {
namespace {

using test::expect_error;

std::vector<float> golden_vectors(std::size_t rows, std::size_t dim) {
  std::vector<float> v(rows * dim);
  std::ifstream in(test::test_data() / "golden" / "vectors.f32", std::ios::binary);
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * 4));
  return v;
}

TEST(CudaProbe, AMissingRuntimeSaysHowToInstallIt) {
  test::TempDir dir;
  const auto probe = devices::probe_cuda_runtime(dir.path());
  EXPECT_FALSE(probe.ok);
  EXPECT_EQ(probe.why, "the CUDA runtime is not installed (no " +
                           (dir.path() / "onnxruntime/capi/libonnxruntime.so.1.29.0").string() +
                           "): run `make setup-cuda`");
}

// An engine whose device reports an error on its second run, as ONNX
// Runtime's CUDA EP reports one (Error(Unavailable)).
class FailingDevice final : public InferenceEngine {
 public:
  const EngineCapabilities& capabilities() const noexcept override { return caps_; }
  void run(const SequenceBatch&, std::span<float>) override {
    if (++runs_ == 2) throw Error(ErrorCode::Unavailable, "CUDA error: out of memory");
  }
  int runs_ = 0;

 private:
  EngineCapabilities caps_{"fake", "cuda", "CUDAExecutionProvider", 4};
};

TEST(DeviceGuard, ADeviceErrorIsRememberedAndReported) {
  auto inner = std::make_unique<FailingDevice>();
  auto* device = inner.get();
  DeviceGuard guard(std::move(inner));
  guard.run({}, {});
  EXPECT_TRUE(guard.device_status().ok);
  expect_error([&] { guard.run({}, {}); }, ErrorCode::Unavailable,
               "device cuda failed: CUDA error: out of memory");
  expect_error([&] { guard.run({}, {}); }, ErrorCode::Unavailable,
               "device cuda failed: CUDA error: out of memory");
  EXPECT_EQ(device->runs_, 2);  // the failed device is not asked again
  EXPECT_EQ(guard.device_status().message, "device cuda failed: CUDA error: out of memory");
}

// The CUDA engine's own code (the second libonnxruntime opened beside the
// linked one, the C API session, IoBinding, unpadding) on the GPU build's CPU
// execution provider: golden parity at batch 1 and 7.
TEST(CudaEngine, GpuBuildOnItsCpuProviderMatchesTheGoldenVectors) {
  const char* dir = std::getenv("AKIDB_CUDA_DIR");
  if (dir == nullptr || !devices::probe_cuda_runtime(dir).ok)
    GTEST_SKIP() << "no GPU build of ONNX Runtime (AKIDB_CUDA_DIR, make setup-cuda)";
  auto model = LoadedModel::load(test::model_dir(), "fp32");
  const auto& m = model.manifest;
  CudaEngineConfig config;
  static_cast<GraphConfig&>(config) = graph_config(model);
  config.runtime_dir = dir;
  config.use_cuda = false;
  EmbeddingPipeline pipeline({std::move(model), std::make_unique<CudaEngine>(config)}, {});
  EXPECT_EQ(pipeline.model_info().execution_provider, "CPUExecutionProvider");
  auto texts = test::golden_texts();
  texts.resize(7);
  const auto ref = golden_vectors(texts.size(), m.dimension);
  const auto together = pipeline.embed_batch(EmbedRequest::from_texts(texts));
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto alone = pipeline.embed_batch(EmbedRequest::from_texts({texts[i]}));
    const std::span<const float> want(ref.data() + i * m.dimension, m.dimension);
    EXPECT_GE(test::cosine(together.embeddings.row(i), want), 0.9999) << texts[i];
    EXPECT_GE(test::cosine(alone.embeddings.row(0), want), 0.9999) << texts[i];
  }
}

// The same on a graph with a pooled output (gpu_graphs.py's directory, in
// AKIDB_GPU_MODEL_DIR): the engine binds only `sentence_embedding`, the
// pipeline does not pool again.
TEST(CudaEngine, GpuBuildOnItsCpuProviderBindsThePooledOutput) {
  const char* dir = std::getenv("AKIDB_CUDA_DIR");
  const char* gpu_model = std::getenv("AKIDB_GPU_MODEL_DIR");
  if (dir == nullptr || gpu_model == nullptr || !devices::probe_cuda_runtime(dir).ok)
    GTEST_SKIP() << "needs AKIDB_CUDA_DIR (make setup-cuda) and AKIDB_GPU_MODEL_DIR (gpu_graphs)";
  for (const std::string variant : {"fp32", "fp16"}) {
    auto model = LoadedModel::load(gpu_model, variant);
    const auto dim = model.manifest.dimension;
    CudaEngineConfig config;
    static_cast<GraphConfig&>(config) = graph_config(model);
    config.runtime_dir = dir;
    config.use_cuda = false;
    EmbeddingPipeline pipeline({std::move(model), std::make_unique<CudaEngine>(config)}, {});
    ASSERT_TRUE(pipeline.pools_in_engine()) << variant;
    auto texts = test::golden_texts();
    texts.resize(7);
    const auto ref = golden_vectors(texts.size(), dim);
    const auto got = pipeline.embed_batch(EmbedRequest::from_texts(texts));
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::span<const float> want(ref.data() + i * dim, dim);
      EXPECT_GE(test::cosine(got.embeddings.row(i), want), 0.9999) << variant << ": " << texts[i];
    }
  }
}

}  // namespace
}  // namespace akidb::embed
