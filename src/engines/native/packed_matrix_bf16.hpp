#pragma once
// The bf16 variant of a linear layer's weight [n, k]: weights rounded to
// bfloat16 (round to nearest even), laid out for AVX512_BF16's vdpbf16ps.
// Panels of kPanelWidth output columns as in PackedMatrix, but k is walked in
// pairs: panel p holds, for kp = 0..ceil(k / 2) - 1, 32 words, word j =
// bf16(W[col][2 kp]) | bf16(W[col][2 kp + 1]) << 16 with col = p * 32 + j
// (zero past n and past k). The bias stays fp32 (padded as in PackedMatrix).
#include <cstddef>
#include <cstdint>
#include <span>

#include "weight_array.hpp"

namespace akidb::embed::native {

// fp32 -> bf16 bits, round to nearest even (NaN stays a quiet NaN).
std::uint16_t to_bf16(float x) noexcept;
// bf16 bits -> fp32 (exact).
float from_bf16(std::uint16_t b) noexcept;

class PackedMatrixBf16 {
 public:
  PackedMatrixBf16() = default;
  PackedMatrixBf16(std::span<const float> weight, std::span<const float> bias, std::size_t n,
                   std::size_t k);
  PackedMatrixBf16(std::size_t n, std::size_t k, WeightArray<std::uint32_t> pairs,
                   WeightArray<float> bias);

  static std::size_t pair_words(std::size_t n, std::size_t k) noexcept;

  std::size_t n() const noexcept { return n_; }
  std::size_t k() const noexcept { return k_; }
  std::size_t panels() const noexcept;
  const std::uint32_t* data() const noexcept { return pairs_.data(); }
  const float* bias() const noexcept { return bias_.data(); }
  const WeightArray<std::uint32_t>& packed_array() const noexcept { return pairs_; }
  const WeightArray<float>& bias_array() const noexcept { return bias_; }

 private:
  std::size_t n_ = 0;
  std::size_t k_ = 0;
  WeightArray<std::uint32_t> pairs_;
  WeightArray<float> bias_;
};

}  // namespace akidb::embed::native
