// The native engine's BERT-family dispatch: config.json parsing per family and
// MPNet's relative position buckets (values from transformers'
// MPNetEncoder.relative_position_bucket, torch 2.9, printed by
//   python -c "import torch; from transformers.models.mpnet.modeling_mpnet import MPNetEncoder;
//   print(MPNetEncoder.relative_position_bucket(torch.tensor([...])))").
// Whole models of each family are checked against sentence-transformers in
// tests/e2e/test_architectures.py.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "akidb/embed/error.hpp"
#include "engines/native/bert_config.hpp"
#include "engines/native/relative_position.hpp"

namespace akidb::embed::native {
namespace {

TEST(RelativePositionBucket, MatchesTransformersAtEveryBoundary) {
  const std::vector<std::pair<std::int64_t, std::size_t>> expected = {
      {-600, 15}, {-129, 15}, {-128, 15}, {-127, 15}, {-65, 14}, {-64, 14}, {-63, 13},
      {-33, 12},  {-32, 12},  {-31, 11},  {-17, 10},  {-16, 10}, {-15, 9},  {-8, 8},
      {-7, 7},    {-1, 1},    {0, 0},     {1, 17},    {7, 23},   {8, 24},   {15, 25},
      {16, 26},   {17, 26},   {31, 27},   {32, 28},   {33, 28},  {63, 29},  {64, 30},
      {65, 30},   {127, 31},  {128, 31},  {129, 31},  {600, 31}};
  for (const auto& [distance, bucket] : expected)
    EXPECT_EQ(relative_position_bucket(distance, 32), bucket) << "distance " << distance;
}

TEST(RelativePositionBucket, TableIsIndexedByDistance) {
  // 4 buckets x 2 heads: bias of bucket b, head h = 10 * b + h.
  const std::vector<float> bias = {0, 1, 10, 11, 20, 21, 30, 31};
  const auto table = bias_by_distance(bias, 4, 2, 3);  // distances -2..2
  const std::size_t width = 5;
  for (std::int64_t d = -2; d <= 2; ++d) {
    const std::size_t b = relative_position_bucket(d, 4);
    for (std::size_t h = 0; h < 2; ++h)
      EXPECT_EQ(table.data()[h * width + static_cast<std::size_t>(d + 2)],
                static_cast<float>(10 * b + h));
  }
}

const char* kSizes =
    R"("hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
       "intermediate_size": 16, "max_position_embeddings": 20, "vocab_size": 30)";

BertConfig parse(const std::string& extra) {
  return parse_bert_config("{" + std::string(kSizes) + extra + "}", "config.json");
}

TEST(NativeConfig, FamiliesFromModelType) {
  const auto bert = parse(R"(, "type_vocab_size": 2)");
  EXPECT_EQ(bert.family, Family::Bert);
  EXPECT_EQ(bert.max_tokens(), 20u);

  const auto xlmr =
      parse(R"(, "model_type": "xlm-roberta", "type_vocab_size": 1, "pad_token_id": 1)");
  EXPECT_EQ(xlmr.family, Family::Roberta);
  EXPECT_EQ(xlmr.pad_token_id, 1);
  EXPECT_EQ(xlmr.max_tokens(), 18u);  // positions 2..19

  const auto mpnet = parse(R"(, "model_type": "mpnet", "relative_attention_num_buckets": 32)");
  EXPECT_EQ(mpnet.family, Family::MPNet);
  EXPECT_EQ(mpnet.type_vocab_size, 1u);
  EXPECT_EQ(mpnet.relative_attention_buckets, 32u);
  EXPECT_EQ(mpnet.max_tokens(), 18u);
}

void expect_model_error(const std::string& extra, const std::string& message) {
  try {
    parse(extra);
    FAIL() << "no error for " << extra;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::ModelError);
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
}

TEST(NativeConfig, UnsupportedFieldsAreNamed) {
  expect_model_error(
      R"(, "model_type": "deberta-v2", "type_vocab_size": 1)",
      "model_type 'deberta-v2' is not supported (bert, xlm-roberta, roberta, mpnet)");
  expect_model_error(R"(, "model_type": "mpnet", "relative_attention_num_buckets": 6)",
                     "relative_attention_num_buckets must be a positive multiple of 4");
  expect_model_error(
      R"(, "model_type": "xlm-roberta", "type_vocab_size": 1, "pad_token_id": "one")",
      "'pad_token_id' is not an integer");
  expect_model_error(R"(, "model_type": "xlm-roberta", "type_vocab_size": 1, "pad_token_id": 19)",
                     "max_position_embeddings leaves no positions");
}

}  // namespace
}  // namespace akidb::embed::native
