#include "packed_matrix_int8.hpp"

#include <algorithm>
#include <cmath>

#include "kernels_int8.hpp"

namespace akidb::embed::native {
namespace {

// Quantizes row `col` of weight into q (k values); returns its scale.
float quantize_channel(std::span<const float> w, std::int8_t* q) {
  float max_abs = 0.0f;
  for (const float x : w) max_abs = std::max(max_abs, std::fabs(x));
  const float inv = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
  for (std::size_t i = 0; i < w.size(); ++i)
    q[i] = static_cast<std::int8_t>(std::clamp(std::nearbyint(w[i] * inv), -127.0f, 127.0f));
  return max_abs / 127.0f;
}

}  // namespace

PackedMatrixInt8::PackedMatrixInt8(std::span<const float> weight, std::span<const float> bias,
                                   std::size_t n, std::size_t k)
    : n_(n), k_(k) {
  const std::size_t count = panels(), kp = int8_padded_k(k), cols = count * kPanelWidth;
  packed_.resize(cols * kp);
  scales_.resize(cols);
  sums_.assign(cols, 0);
  bias_.resize(cols);
  std::vector<std::int8_t> q(k);
  auto* out = reinterpret_cast<std::int8_t*>(packed_.data());
  for (std::size_t col = 0; col < n; ++col) {
    scales_.data()[col] = quantize_channel(weight.subspan(col * k, k), q.data());
    bias_.data()[col] = bias[col];
    const std::size_t panel = col / kPanelWidth, j = col % kPanelWidth;
    std::int8_t* base = out + panel * kp * kPanelWidth + j * kInt8Group;
    for (std::size_t kk = 0; kk < k; ++kk) {
      base[kk / kInt8Group * kPanelWidth * kInt8Group + kk % kInt8Group] = q[kk];
      sums_[col] += q[kk];
    }
  }
}

std::size_t PackedMatrixInt8::panels() const noexcept {
  return (n_ + kPanelWidth - 1) / kPanelWidth;
}

}  // namespace akidb::embed::native
