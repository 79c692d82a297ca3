#include "packed_matrix.hpp"

#include <utility>

#include "kernels.hpp"

namespace akidb::embed::native {

PackedMatrix::PackedMatrix(std::span<const float> weight, std::span<const float> bias,
                           std::size_t n, std::size_t k)
    : n_(n), k_(k), packed_(packed_floats(n, k)), bias_(bias_floats(n)) {
  float* out = packed_.mutable_data();
  for (std::size_t p = 0; p < panels(n); ++p) {
    for (std::size_t kk = 0; kk < k; ++kk) {
      for (std::size_t j = 0; j < kPanelWidth; ++j) {
        const std::size_t col = p * kPanelWidth + j;
        *out++ = col < n ? weight[col * k + kk] : 0.0f;
      }
    }
  }
  for (std::size_t col = 0; col < n; ++col) bias_.mutable_data()[col] = bias[col];
}

PackedMatrix::PackedMatrix(std::size_t n, std::size_t k, WeightArray<float> packed,
                           WeightArray<float> bias)
    : n_(n), k_(k), packed_(std::move(packed)), bias_(std::move(bias)) {}

std::size_t PackedMatrix::panels(std::size_t n) noexcept {
  return (n + kPanelWidth - 1) / kPanelWidth;
}
std::size_t PackedMatrix::packed_floats(std::size_t n, std::size_t k) noexcept {
  return panels(n) * k * kPanelWidth;
}
std::size_t PackedMatrix::bias_floats(std::size_t n) noexcept { return panels(n) * kPanelWidth; }

}  // namespace akidb::embed::native
