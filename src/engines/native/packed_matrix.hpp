#pragma once
// A linear layer's weight [n, k] (PyTorch layout: out_features x in_features)
// re-laid out at load into panels of kPanelWidth output columns: panel p holds
// W^T[kk][p * 32 .. p * 32 + 31] for kk = 0..k-1, contiguous, zero-padded past
// n. The bias is padded the same way.
#include <cstddef>
#include <span>

#include "aligned_buffer.hpp"

namespace akidb::embed::native {

class PackedMatrix {
 public:
  PackedMatrix() = default;
  // weight: n rows of k floats; bias: n floats.
  PackedMatrix(std::span<const float> weight, std::span<const float> bias, std::size_t n,
               std::size_t k);

  std::size_t n() const noexcept { return n_; }
  std::size_t k() const noexcept { return k_; }
  std::size_t panels() const noexcept;
  const float* data() const noexcept { return packed_.data(); }
  const float* bias() const noexcept { return bias_.data(); }

 private:
  std::size_t n_ = 0;
  std::size_t k_ = 0;
  AlignedBuffer packed_;
  AlignedBuffer bias_;
};

}  // namespace akidb::embed::native
