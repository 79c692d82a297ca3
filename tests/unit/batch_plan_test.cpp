#include "pipeline/batch_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace akidb::embed {
namespace {

std::vector<std::size_t> all_members(const std::vector<SubBatch>& batches) {
  std::vector<std::size_t> members;
  for (const auto& b : batches) members.insert(members.end(), b.members.begin(), b.members.end());
  std::sort(members.begin(), members.end());
  return members;
}

TEST(BatchPlan, SortsByLengthAndPadsEachSubBatchToItsLongest) {
  const std::vector<std::size_t> lengths{50, 3, 40, 4, 5};
  const auto batches = plan_batches(lengths, {true, 12, 0});
  // Sorted lengths 3, 4 | 5 | 40 | 50: adding 5 to the first would pad 3 x 5 > 12.
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[0].members, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(batches[0].seq_len, 4u);
  EXPECT_EQ(batches[1].members, (std::vector<std::size_t>{4}));
  EXPECT_EQ(batches[3].seq_len, 50u);
  EXPECT_EQ(all_members(batches), (std::vector<std::size_t>{0, 1, 2, 3, 4}));
}

TEST(BatchPlan, EveryInputAppearsExactlyOnceUnderTheBudget) {
  std::vector<std::size_t> lengths;
  for (std::size_t i = 0; i < 300; ++i) lengths.push_back(2 + (i * 37) % 255);
  const auto batches = plan_batches(lengths, {true, 2048, 0});
  std::vector<std::size_t> expected(300);
  for (std::size_t i = 0; i < 300; ++i) expected[i] = i;
  EXPECT_EQ(all_members(batches), expected);
  for (const auto& b : batches) EXPECT_LE(b.seq_len * b.members.size(), 2048u);
}

TEST(BatchPlan, OversizedInputGetsASubBatchOfItsOwn) {
  const std::vector<std::size_t> lengths{256, 256};
  const auto batches = plan_batches(lengths, {true, 100, 0});
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].seq_len, 256u);
}

TEST(BatchPlan, MaxInputsOneGivesOneSubBatchPerInput) {
  const std::vector<std::size_t> lengths{7, 3, 5};
  const auto batches = plan_batches(lengths, {true, 1u << 20, 0, 1});
  ASSERT_EQ(batches.size(), 3u);
  for (const auto& b : batches) EXPECT_EQ(b.members.size(), 1u);
  EXPECT_EQ(batches[0].members[0], 1u);
}

TEST(BatchPlan, FixedPaddingPadsEverythingToTheFixedLength) {
  const std::vector<std::size_t> lengths{3, 9, 5};
  const auto batches = plan_batches(lengths, {false, 1u << 20, 512});
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].seq_len, 512u);
  EXPECT_EQ(batches[0].members, (std::vector<std::size_t>{0, 1, 2}));
}

}  // namespace
}  // namespace akidb::embed
