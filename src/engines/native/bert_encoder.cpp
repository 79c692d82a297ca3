#include "bert_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace akidb::embed::native {
namespace {

// Profiling hook: charges the time since the previous mark to `step`.
void mark(const Compute& cx, Step step, double flops = 0) {
  if (cx.profile != nullptr) cx.profile->lap(step, flops);
}

// Scores and weighted sums of every sequence: 2 x len^2 x hidden each.
double attention_flops(std::span<const std::uint32_t> offsets, std::size_t hidden) {
  double flops = 0;
  for (std::size_t s = 0; s + 1 < offsets.size(); ++s) {
    const double len = offsets[s + 1] - offsets[s];
    flops += 4.0 * len * len * double(hidden);
  }
  return flops;
}

}  // namespace

BertEncoder::BertEncoder(BertConfig config, BertWeights weights) noexcept
    : config_(config), weights_(std::move(weights)) {}

void BertEncoder::reserve(std::size_t tokens, std::size_t longest, std::size_t threads) {
  const std::size_t h = config_.hidden_size;
  qkv_.reserve(tokens * 3 * h);
  context_.reserve(tokens * h);
  attended_.reserve(tokens * h);
  intermediate_.reserve(tokens * config_.intermediate_size);
  const std::size_t per_thread = attention_scratch_floats(longest, config_.head_dim());
  if (per_thread > scratch_per_thread_) {
    scratch_per_thread_ = per_thread;
    scratch_.resize(per_thread * threads);
  }
}

// Position id of token t (0-based in its sequence): t for BERT; for the
// RoBERTa family and MPNet, transformers' create_position_ids_from_input_ids:
// pad + (real tokens so far, this one included), and pad for a pad token.
std::size_t BertEncoder::position(std::int32_t id, std::size_t t, std::size_t& real) const {
  if (!config_.offset_positions()) return t;
  const auto pad = static_cast<std::size_t>(config_.pad_token_id);
  if (id == config_.pad_token_id) return pad;
  return pad + ++real;
}

void BertEncoder::embed(const Compute& cx, const PackedBatch& batch, float* x) {
  const std::size_t h = config_.hidden_size;
  const std::size_t sequences = batch.offsets.size() - 1;
  parallel_for(cx.pool, sequences, [&](std::size_t begin, std::size_t end) {
    for (std::size_t s = begin; s < end; ++s) {
      std::size_t real = 0;
      for (std::size_t t = batch.offsets[s]; t < batch.offsets[s + 1]; ++t) {
        const float* word = weights_.word.data() + static_cast<std::size_t>(batch.ids[t]) * h;
        const float* pos =
            weights_.position.data() + position(batch.ids[t], t - batch.offsets[s], real) * h;
        const float* type =
            weights_.token_type.data() + static_cast<std::size_t>(batch.type_ids[t]) * h;
        float* row = x + t * h;
        for (std::size_t i = 0; i < h; ++i) row[i] = word[i] + pos[i] + type[i];
      }
      const std::size_t first = batch.offsets[s];
      cx.kernels.layer_norm(x + first * h, batch.offsets[s + 1] - first, h, h,
                            weights_.embedding_ln.gamma.data(), weights_.embedding_ln.beta.data(),
                            config_.layer_norm_eps);
    }
  });
}

void BertEncoder::layer(const Compute& cx, const LayerWeights& w,
                        std::span<const std::uint32_t> offsets, std::size_t tokens, float* x) {
  const std::size_t h = config_.hidden_size;
  const float eps = config_.layer_norm_eps;
  LinearScratch& scratch = linear_scratch_;
  linear(cx, w.qkv, scratch, x, h, tokens, qkv_.data(), 3 * h, Epilogue::Bias);
  mark(cx, Step::Qkv, gemm_flops(tokens, 3 * h, h));

  AttentionArgs args;
  args.qkv = qkv_.data();
  args.ld_qkv = 3 * h;
  args.ctx = context_.data();
  args.ld_ctx = h;
  args.hidden = h;
  args.head_dim = config_.head_dim();
  args.scale = 1.0f / std::sqrt(static_cast<float>(args.head_dim));
  if (weights_.relative_bias.size() != 0) {
    args.position_bias = weights_.relative_bias.data();
    args.bias_width = 2 * config_.max_position_embeddings - 1;
    args.bias_centre = config_.max_position_embeddings - 1;
  }
  attention(cx, args, config_.num_heads, offsets, scratch_.data(), scratch_per_thread_);
  if (cx.profile != nullptr) mark(cx, Step::Attention, attention_flops(offsets, h));

  linear(cx, w.attn_out, scratch, context_.data(), h, tokens, attended_.data(), h,
         Epilogue::BiasResidual, x, h);
  mark(cx, Step::AttnOut, gemm_flops(tokens, h, h));
  layer_norm(cx, attended_.data(), tokens, h, w.attn_ln.gamma.data(), w.attn_ln.beta.data(), eps);
  mark(cx, Step::AttnNorm);
  const std::size_t inter = config_.intermediate_size;
  linear(cx, w.ffn_up, scratch, attended_.data(), h, tokens, intermediate_.data(), inter,
         Epilogue::BiasGelu);
  mark(cx, Step::FfnUp, gemm_flops(tokens, inter, h));
  linear(cx, w.ffn_down, scratch, intermediate_.data(), inter, tokens, x, h, Epilogue::BiasResidual,
         attended_.data(), h);
  mark(cx, Step::FfnDown, gemm_flops(tokens, h, inter));
  layer_norm(cx, x, tokens, h, w.out_ln.gamma.data(), w.out_ln.beta.data(), eps);
  mark(cx, Step::FfnNorm);
}

void BertEncoder::forward(const Compute& cx, const PackedBatch& batch, std::span<float> hidden) {
  const std::size_t sequences = batch.offsets.empty() ? 0 : batch.offsets.size() - 1;
  if (sequences == 0) return;
  const std::size_t tokens = batch.offsets.back();
  if (tokens == 0) return;
  std::size_t longest = 0;
  for (std::size_t s = 0; s < sequences; ++s)
    longest = std::max<std::size_t>(longest, batch.offsets[s + 1] - batch.offsets[s]);
  reserve(tokens, longest, cx.pool.size());
  float* x = hidden.data();
  if (cx.profile != nullptr) cx.profile->start();
  embed(cx, batch, x);
  mark(cx, Step::Embeddings);
  for (const auto& w : weights_.layers) layer(cx, w, batch.offsets, tokens, x);
}

}  // namespace akidb::embed::native
