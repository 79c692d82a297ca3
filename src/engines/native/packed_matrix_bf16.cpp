#include "packed_matrix_bf16.hpp"

#include <bit>
#include <utility>

#include "kernels.hpp"
#include "packed_matrix.hpp"

namespace akidb::embed::native {

std::uint16_t to_bf16(float x) noexcept {
  const auto u = std::bit_cast<std::uint32_t>(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

float from_bf16(std::uint16_t b) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}

PackedMatrixBf16::PackedMatrixBf16(std::span<const float> weight, std::span<const float> bias,
                                   std::size_t n, std::size_t k)
    : n_(n), k_(k), pairs_(pair_words(n, k)), bias_(PackedMatrix::bias_floats(n)) {
  const std::size_t k2 = (k + 1) / 2;
  std::uint32_t* out = pairs_.mutable_data();
  const auto at = [&](std::size_t col, std::size_t kk) -> std::uint32_t {
    return col < n && kk < k ? to_bf16(weight[col * k + kk]) : 0u;
  };
  for (std::size_t p = 0; p < panels(); ++p) {
    for (std::size_t kp = 0; kp < k2; ++kp) {
      for (std::size_t j = 0; j < kPanelWidth; ++j) {
        const std::size_t col = p * kPanelWidth + j;
        *out++ = at(col, 2 * kp) | (at(col, 2 * kp + 1) << 16);
      }
    }
  }
  for (std::size_t col = 0; col < n; ++col) bias_.mutable_data()[col] = bias[col];
}

PackedMatrixBf16::PackedMatrixBf16(std::size_t n, std::size_t k, WeightArray<std::uint32_t> pairs,
                                   WeightArray<float> bias)
    : n_(n), k_(k), pairs_(std::move(pairs)), bias_(std::move(bias)) {}

std::size_t PackedMatrixBf16::pair_words(std::size_t n, std::size_t k) noexcept {
  return PackedMatrix::panels(n) * ((k + 1) / 2) * kPanelWidth;
}

std::size_t PackedMatrixBf16::panels() const noexcept { return PackedMatrix::panels(n_); }

}  // namespace akidb::embed::native
