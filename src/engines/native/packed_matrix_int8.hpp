#pragma once
// A linear layer's weight [n, k] quantized once at load to int8 per output
// channel (symmetric: scale[col] = max|w[col]| / 127, q = round(w / scale) in
// [-127, 127]) and laid out for the int8 kernels (kernels_int8.hpp): panels of
// kPanelWidth columns, groups of 4 k values per column, k zero-padded to a
// multiple of 4, columns zero-padded past n. Also kept per padded column: the
// scale, the bias, and the sum of the column's int8 weights (the VNNI kernel
// subtracts 128 * sum to undo its +128 shift of the activations). Each array
// is owned or a view into the packed-weights cache (weight_array.hpp).
#include <cstddef>
#include <cstdint>
#include <span>

#include "weight_array.hpp"

namespace akidb::embed::native {

class PackedMatrixInt8 {
 public:
  PackedMatrixInt8() = default;
  // weight: n rows of k floats; bias: n floats.
  PackedMatrixInt8(std::span<const float> weight, std::span<const float> bias, std::size_t n,
                   std::size_t k);
  // From arrays already in this layout (the packed-weights cache).
  PackedMatrixInt8(std::size_t n, std::size_t k, WeightArray<std::int8_t> packed,
                   WeightArray<float> scales, WeightArray<std::int32_t> sums,
                   WeightArray<float> bias);

  // The sizes of the arrays for an [n, k] weight.
  static std::size_t packed_bytes(std::size_t n, std::size_t k) noexcept;
  static std::size_t padded_cols(std::size_t n) noexcept;

  std::size_t n() const noexcept { return n_; }
  std::size_t k() const noexcept { return k_; }
  std::size_t panels() const noexcept;
  const std::int8_t* data() const noexcept { return packed_.data(); }
  const float* col_scales() const noexcept { return scales_.data(); }
  const std::int32_t* col_sums() const noexcept { return sums_.data(); }
  const float* bias() const noexcept { return bias_.data(); }
  const WeightArray<std::int8_t>& packed_array() const noexcept { return packed_; }
  const WeightArray<float>& scales_array() const noexcept { return scales_; }
  const WeightArray<std::int32_t>& sums_array() const noexcept { return sums_; }
  const WeightArray<float>& bias_array() const noexcept { return bias_; }

 private:
  std::size_t n_ = 0;
  std::size_t k_ = 0;
  WeightArray<std::int8_t> packed_;
  WeightArray<float> scales_;
  WeightArray<std::int32_t> sums_;
  WeightArray<float> bias_;
};

}  // namespace akidb::embed::native
