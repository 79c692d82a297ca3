#pragma once
// A linear layer's weight [n, k] quantized once at load to int8 per output
// channel (symmetric: scale[col] = max|w[col]| / 127, q = round(w / scale) in
// [-127, 127]) and laid out for the int8 kernels (kernels_int8.hpp): panels of
// kPanelWidth columns, groups of 4 k values per column, k zero-padded to a
// multiple of 4, columns zero-padded past n. Also kept per padded column: the
// scale, the bias, and the sum of the column's int8 weights (the VNNI kernel
// subtracts 128 * sum to undo its +128 shift of the activations).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "aligned_buffer.hpp"
#include "aligned_bytes.hpp"

namespace akidb::embed::native {

class PackedMatrixInt8 {
 public:
  PackedMatrixInt8() = default;
  // weight: n rows of k floats; bias: n floats.
  PackedMatrixInt8(std::span<const float> weight, std::span<const float> bias, std::size_t n,
                   std::size_t k);

  std::size_t n() const noexcept { return n_; }
  std::size_t k() const noexcept { return k_; }
  std::size_t panels() const noexcept;
  const std::int8_t* data() const noexcept {
    return reinterpret_cast<const std::int8_t*>(packed_.data());
  }
  const float* col_scales() const noexcept { return scales_.data(); }
  const std::int32_t* col_sums() const noexcept { return sums_.data(); }
  const float* bias() const noexcept { return bias_.data(); }

 private:
  std::size_t n_ = 0;
  std::size_t k_ = 0;
  AlignedBytes packed_;
  AlignedBuffer scales_;
  std::vector<std::int32_t> sums_;
  AlignedBuffer bias_;
};

}  // namespace akidb::embed::native
