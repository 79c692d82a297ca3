#include "akidb/embed/pooling.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace akidb::embed {
namespace {

TEST(MeanPool, AveragesOnlyMaskedTokens) {
  const std::size_t seq = 5, dim = 384;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> hidden(seq * dim);
  for (auto& x : hidden) x = normal(rng);
  const std::vector<std::int64_t> mask{1, 1, 1, 0, 0};
  std::vector<float> out(dim);
  mean_pool(hidden.data(), mask.data(), seq, dim, out.data());
  for (std::size_t d = 0; d < dim; ++d) {
    const float expected = (hidden[d] + hidden[dim + d] + hidden[2 * dim + d]) / 3.0f;
    ASSERT_NEAR(out[d], expected, 1e-6f) << "dimension " << d;
  }
}

TEST(MeanPool, AllPaddingGivesZeroVector) {
  std::vector<float> hidden(2 * 4, 1.0f), out(4, 9.0f);
  const std::vector<std::int64_t> mask{0, 0};
  mean_pool(hidden.data(), mask.data(), 2, 4, out.data());
  for (float x : out) EXPECT_EQ(x, 0.0f);
}

TEST(L2Normalize, GivesUnitNorm) {
  std::vector<float> v{3.0f, 4.0f, 0.0f};
  l2_normalize(v.data(), v.size());
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  EXPECT_FLOAT_EQ(v[2], 0.0f);
}

TEST(L2Normalize, ZeroVectorStaysZero) {
  std::vector<float> v(8, 0.0f);
  l2_normalize(v.data(), v.size());
  for (float x : v) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace akidb::embed
