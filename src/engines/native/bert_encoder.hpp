#pragma once
// The BERT-family forward pass (BERT, XLM-RoBERTa, MPNet; see Family in
// bert_config.hpp) on a packed batch: embeddings + LayerNorm, then per
// layer fused QKV GEMM, per-sequence attention, output projection with the
// residual, LayerNorm, GELU FFN with the residual, LayerNorm. Activations
// live in a workspace that grows to the largest batch seen and is reused.
#include <cstddef>
#include <cstdint>
#include <span>

#include "aligned_buffer.hpp"
#include "bert_config.hpp"
#include "bert_weights.hpp"
#include "parallel_ops.hpp"

namespace akidb::embed::native {

struct PackedBatch {
  std::span<const std::int32_t> ids;
  std::span<const std::int32_t> type_ids;
  std::span<const std::uint32_t> offsets;
};

class BertEncoder {
 public:
  BertEncoder(BertConfig config, BertWeights weights) noexcept;

  const BertConfig& config() const noexcept { return config_; }

  // hidden: [tokens, hidden_size]. Ids, type ids and lengths must already be
  // in range. Not thread-safe (one workspace).
  void forward(const Compute& cx, const PackedBatch& batch, std::span<float> hidden);

 private:
  void reserve(std::size_t tokens, std::size_t longest, std::size_t threads);
  std::size_t position(std::int32_t id, std::size_t t, std::size_t& real) const;
  void embed(const Compute& cx, const PackedBatch& batch, float* x);
  void layer(const Compute& cx, const LayerWeights& w, std::span<const std::uint32_t> offsets,
             std::size_t tokens, float* x);

  BertConfig config_;
  BertWeights weights_;
  AlignedBuffer qkv_;
  AlignedBuffer context_;
  AlignedBuffer attended_;
  AlignedBuffer intermediate_;
  AlignedBuffer scratch_;
  LinearScratch linear_scratch_;
  std::size_t scratch_per_thread_ = 0;
};

}  // namespace akidb::embed::native
