#include "akidb/embed/pooling.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace akidb::embed {
namespace {

TEST(MeanPool, AveragesTheSequencesRows) {
  const std::size_t seq = 5, dim = 384;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> hidden(seq * dim);
  for (auto& x : hidden) x = normal(rng);
  std::vector<float> out(dim);
  mean_pool(hidden.data(), 3, dim, out.data());  // the first three rows only
  for (std::size_t d = 0; d < dim; ++d) {
    const float expected = (hidden[d] + hidden[dim + d] + hidden[2 * dim + d]) / 3.0f;
    ASSERT_NEAR(out[d], expected, 1e-6f) << "dimension " << d;
  }
}

TEST(MeanPool, NoTokensGivesZeroVector) {
  std::vector<float> hidden(2 * 4, 1.0f), out(4, 9.0f);
  mean_pool(hidden.data(), 0, 4, out.data());
  for (float x : out) EXPECT_EQ(x, 0.0f);
}

TEST(Pool, ClsTakesTheFirstRow) {
  const std::vector<float> hidden{1, 2, 3, 4, 5, 6};
  std::vector<float> out(3);
  pool(Pooling::Cls, hidden.data(), 2, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3}));
  pool(Pooling::Mean, hidden.data(), 2, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{2.5f, 3.5f, 4.5f}));
}

TEST(Pool, MaxTakesThePerDimensionMaximum) {
  const std::vector<float> hidden{1, -2, 3, -4, 5, -6, 0, 0, 9};
  std::vector<float> out(3);
  pool(Pooling::Max, hidden.data(), 3, 3, out.data());
  EXPECT_EQ(out, (std::vector<float>{1, 5, 9}));
  pool(Pooling::Max, hidden.data(), 0, 3, out.data());  // sentence-transformers' -1e9 fill
  EXPECT_EQ(out, (std::vector<float>{-1e9f, -1e9f, -1e9f}));
}

TEST(Pool, MeanSqrtLenDividesTheSumBySqrtOfTheCount) {
  const std::vector<float> hidden{1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<float> out(2);
  pool(Pooling::MeanSqrtLen, hidden.data(), 4, 2, out.data());
  EXPECT_FLOAT_EQ(out[0], 16.0f / 2.0f);
  EXPECT_FLOAT_EQ(out[1], 20.0f / 2.0f);
}

TEST(Pool, SkipLeavesThePromptOutExceptForCls) {
  const std::vector<float> hidden{10, 20, 1, 2, 3, 4};
  std::vector<float> out(2);
  pool(Pooling::Mean, hidden.data(), 3, 2, out.data(), 1);
  EXPECT_EQ(out, (std::vector<float>{2, 3}));
  pool(Pooling::Max, hidden.data(), 3, 2, out.data(), 1);
  EXPECT_EQ(out, (std::vector<float>{3, 4}));
  pool(Pooling::Cls, hidden.data(), 3, 2, out.data(), 2);  // as sentence-transformers 5.x does
  EXPECT_EQ(out, (std::vector<float>{10, 20}));
  pool(Pooling::Mean, hidden.data(), 3, 2, out.data(), 7);  // a prompt longer than the sequence
  EXPECT_EQ(out, (std::vector<float>{0, 0}));
}

TEST(TruncateDimensions, KeepsThePrefixAndRenormalizes) {
  Embeddings full(1, 4);
  const std::vector<float> row{3, 4, 12, 0};
  std::copy(row.begin(), row.end(), full.row(0).begin());
  const auto two = truncate_dimensions(full, 2, true);
  ASSERT_EQ(two.dimension(), 2u);
  EXPECT_FLOAT_EQ(two.row(0)[0], 0.6f);
  EXPECT_FLOAT_EQ(two.row(0)[1], 0.8f);
  const auto raw = truncate_dimensions(full, 3, false);
  EXPECT_EQ(raw.row(0)[2], 12.0f);
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
