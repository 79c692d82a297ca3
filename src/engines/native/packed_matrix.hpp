#pragma once
// A linear layer's weight [n, k] (PyTorch layout: out_features x in_features)
// re-laid out at load into panels of kPanelWidth output columns: panel p holds
// W^T[kk][p * 32 .. p * 32 + 31] for kk = 0..k-1, contiguous, zero-padded past
// n. The bias is padded the same way. The arrays are owned, or views into the
// packed-weights cache (packed_cache.hpp).
#include <cstddef>
#include <span>

#include "weight_array.hpp"

namespace akidb::embed::native {

class PackedMatrix {
 public:
  PackedMatrix() = default;
  // weight: n rows of k floats; bias: n floats.
  PackedMatrix(std::span<const float> weight, std::span<const float> bias, std::size_t n,
               std::size_t k);
  // Already packed arrays (packed_floats(n, k) and bias_floats(n) long).
  PackedMatrix(std::size_t n, std::size_t k, WeightArray<float> packed, WeightArray<float> bias);

  static std::size_t panels(std::size_t n) noexcept;
  static std::size_t packed_floats(std::size_t n, std::size_t k) noexcept;
  static std::size_t bias_floats(std::size_t n) noexcept;

  std::size_t n() const noexcept { return n_; }
  std::size_t k() const noexcept { return k_; }
  std::size_t panels() const noexcept { return panels(n_); }
  const float* data() const noexcept { return packed_.data(); }
  const float* bias() const noexcept { return bias_.data(); }
  const WeightArray<float>& packed_array() const noexcept { return packed_; }
  const WeightArray<float>& bias_array() const noexcept { return bias_; }

 private:
  std::size_t n_ = 0;
  std::size_t k_ = 0;
  WeightArray<float> packed_;
  WeightArray<float> bias_;
};

}  // namespace akidb::embed::native
