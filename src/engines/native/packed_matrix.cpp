#include "packed_matrix.hpp"

#include "kernels.hpp"

namespace akidb::embed::native {

PackedMatrix::PackedMatrix(std::span<const float> weight, std::span<const float> bias,
                           std::size_t n, std::size_t k)
    : n_(n), k_(k) {
  const std::size_t count = panels();
  packed_.resize(count * k * kPanelWidth);
  bias_.resize(count * kPanelWidth);
  float* out = packed_.data();
  for (std::size_t p = 0; p < count; ++p) {
    for (std::size_t kk = 0; kk < k; ++kk) {
      for (std::size_t j = 0; j < kPanelWidth; ++j) {
        const std::size_t col = p * kPanelWidth + j;
        *out++ = col < n ? weight[col * k + kk] : 0.0f;
      }
    }
  }
  for (std::size_t col = 0; col < n; ++col) bias_.data()[col] = bias[col];
}

std::size_t PackedMatrix::panels() const noexcept { return (n_ + kPanelWidth - 1) / kPanelWidth; }

}  // namespace akidb::embed::native
