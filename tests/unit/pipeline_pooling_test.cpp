// Pooling in the engine: when the engine's graph pools the way the model
// does (EngineCapabilities::pooling) the pipeline takes its pooled vectors
// as they are and only normalizes them; otherwise (another pooling, or a
// pooling that skips the prompt) it pools the hidden states itself. The
// engine here computes real hidden states (a function of token id and
// position) and pools them with the pipeline's own kernel, so both paths
// must agree; the ONNX Runtime graph's pooled output is checked against the
// golden vectors in tests/e2e/test_devices.py.
#include <gtest/gtest.h>

#include <cmath>

#include "akidb/embed/error.hpp"
#include "akidb/embed/pipeline.hpp"
#include "akidb/embed/pooling.hpp"
#include "engines/onnx/onnx_engine.hpp"
#include "test_support.hpp"

namespace akidb::embed {
namespace {

class PoolingEngine final : public InferenceEngine {
 public:
  PoolingEngine(std::size_t dim, std::optional<Pooling> pooling)
      : caps_{"pooling-test", "cpu", "none", dim, 512, true, true, pooling} {}

  const EngineCapabilities& capabilities() const noexcept override { return caps_; }

  void run(const SequenceBatch& batch, std::span<float> hidden) override {
    ++runs;
    for (std::size_t t = 0; t < batch.tokens(); ++t) {
      for (std::size_t d = 0; d < caps_.hidden_size; ++d)
        hidden[t * caps_.hidden_size + d] =
            std::sin(static_cast<float>(batch.ids[t] * 31 + static_cast<std::int32_t>(d)));
    }
  }

  void run_pooled(const SequenceBatch& batch, std::span<float> pooled) override {
    ++pooled_runs;
    const std::size_t dim = caps_.hidden_size;
    std::vector<float> hidden(batch.tokens() * dim);
    run(batch, hidden);
    --runs;
    for (std::size_t i = 0; i < batch.size(); ++i)
      pool(*caps_.pooling, hidden.data() + batch.offsets[i] * dim, batch.length(i), dim,
           pooled.data() + i * dim);
  }

  int runs = 0;
  int pooled_runs = 0;

 private:
  EngineCapabilities caps_;
};

struct Setup {
  EmbeddingPipeline pipeline;
  PoolingEngine* engine;
};

Setup make(std::optional<Pooling> engine_pooling, bool include_prompt = true) {
  auto model = LoadedModel::load(test::model_dir(), "fp32");
  model.manifest.include_prompt = include_prompt;
  auto engine = std::make_unique<PoolingEngine>(model.manifest.dimension, engine_pooling);
  auto* raw = engine.get();
  return {EmbeddingPipeline({std::move(model), std::move(engine)}, {}), raw};
}

EmbedRequest unnormalized(std::vector<std::string> texts) {
  auto request = EmbedRequest::from_texts(std::move(texts));
  request.normalize = false;
  return request;
}

const std::vector<std::string> kTexts{"a short one", "a somewhat longer sentence than that", "x"};

TEST(PoolingInTheEngine, TheEnginesPooledVectorsAreTakenAsTheyAreNotPooledTwice) {
  auto pooled = make(Pooling::Mean);
  auto host = make(std::nullopt);
  ASSERT_TRUE(pooled.pipeline.pools_in_engine());
  EXPECT_EQ(pooled.pipeline.model_info().pooled_on, "engine");
  EXPECT_EQ(host.pipeline.model_info().pooled_on, "host");
  const auto got = pooled.pipeline.embed_batch(unnormalized(kTexts)).embeddings;
  const auto want = host.pipeline.embed_batch(unnormalized(kTexts)).embeddings;
  EXPECT_EQ(pooled.engine->runs, 0);
  EXPECT_EQ(pooled.engine->pooled_runs, 1);
  EXPECT_EQ(host.engine->runs, 1);
  EXPECT_EQ(host.engine->pooled_runs, 0);
  for (std::size_t i = 0; i < kTexts.size(); ++i) {
    const auto a = got.row(i), b = want.row(i);
    for (std::size_t d = 0; d < a.size(); ++d) ASSERT_FLOAT_EQ(a[d], b[d]) << i << "," << d;
  }
}

TEST(PoolingInTheEngine, NormalizationStaysOnTheHost) {
  auto pooled = make(Pooling::Mean);
  const auto raw = pooled.pipeline.embed_batch(unnormalized({"hello world"})).embeddings;
  const auto unit = pooled.pipeline.embed_batch(EmbedRequest::from_texts({"hello world"}));
  double norm = 0, raw_norm = 0;
  for (float x : unit.embeddings.row(0)) norm += double{x} * x;
  for (float x : raw.row(0)) raw_norm += double{x} * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_GT(std::abs(raw_norm - 1.0), 1e-3);  // the engine's vector is not normalized
  EXPECT_GE(test::cosine(raw.row(0), unit.embeddings.row(0)), 0.999999);
}

TEST(PoolingInTheEngine, AnotherPoolingThanTheModelsIsPooledOnTheHost) {
  auto cls = make(Pooling::Cls);  // the model pools by mean
  EXPECT_FALSE(cls.pipeline.pools_in_engine());
  cls.pipeline.embed_batch(EmbedRequest::from_texts(kTexts));
  EXPECT_EQ(cls.engine->runs, 1);
  EXPECT_EQ(cls.engine->pooled_runs, 0);
}

TEST(PoolingInTheEngine, PoolingThatSkipsThePromptIsDoneOnTheHost) {
  auto skip = make(Pooling::Mean, /*include_prompt=*/false);
  EXPECT_FALSE(skip.pipeline.pools_in_engine());
  EXPECT_EQ(skip.pipeline.model_info().pooled_on, "host");
  skip.pipeline.embed_batch(EmbedRequest::from_texts(kTexts));
  EXPECT_EQ(skip.engine->pooled_runs, 0);
}

TEST(PoolingInTheEngine, AnEngineWithoutAPooledOutputRefusesToPool) {
  PoolingEngine engine(4, std::nullopt);
  InferenceEngine& base = engine;
  test::expect_error([&] { base.InferenceEngine::run_pooled({}, {}); }, ErrorCode::Internal,
                     "engine pooling-test does not pool");
}

TEST(PoolingInTheEngine, AGraphWithoutTheManifestsPooledOutputIsAModelError) {
  auto model = LoadedModel::load(test::model_dir(), "fp32");
  OnnxEngineConfig config;
  static_cast<GraphConfig&>(config) = graph_config(model);
  config.pooled = PooledOutput{"sentence_embedding", Pooling::Mean};
  test::expect_error([&] { OnnxEngine engine(config); }, ErrorCode::ModelError,
                     "graph has no pooled output 'sentence_embedding'");
}

}  // namespace
}  // namespace akidb::embed
