#include "packed_matrix_int8.hpp"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "akidb/embed/error.hpp"
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
    : n_(n),
      k_(k),
      packed_(packed_bytes(n, k)),
      scales_(padded_cols(n)),
      sums_(padded_cols(n)),
      bias_(padded_cols(n)) {
  const std::size_t kp = int8_padded_k(k);
  std::vector<std::int8_t> q(k);
  std::int8_t* out = packed_.mutable_data();
  for (std::size_t col = 0; col < n; ++col) {
    scales_.mutable_data()[col] = quantize_channel(weight.subspan(col * k, k), q.data());
    bias_.mutable_data()[col] = bias[col];
    const std::size_t panel = col / kPanelWidth, j = col % kPanelWidth;
    std::int8_t* base = out + panel * kp * kPanelWidth + j * kInt8Group;
    std::int32_t sum = 0;
    for (std::size_t kk = 0; kk < k; ++kk) {
      base[kk / kInt8Group * kPanelWidth * kInt8Group + kk % kInt8Group] = q[kk];
      sum += q[kk];
    }
    sums_.mutable_data()[col] = sum;
  }
}

PackedMatrixInt8::PackedMatrixInt8(std::size_t n, std::size_t k, WeightArray<std::int8_t> packed,
                                   WeightArray<float> scales, WeightArray<std::int32_t> sums,
                                   WeightArray<float> bias)
    : n_(n),
      k_(k),
      packed_(std::move(packed)),
      scales_(std::move(scales)),
      sums_(std::move(sums)),
      bias_(std::move(bias)) {
  const std::size_t cols = padded_cols(n);
  if (packed_.size() != packed_bytes(n, k) || scales_.size() != cols || sums_.size() != cols ||
      bias_.size() != cols)
    throw Error(ErrorCode::Internal, "native engine: int8 weight arrays of the wrong size");
}

std::size_t PackedMatrixInt8::padded_cols(std::size_t n) noexcept {
  return (n + kPanelWidth - 1) / kPanelWidth * kPanelWidth;
}

std::size_t PackedMatrixInt8::packed_bytes(std::size_t n, std::size_t k) noexcept {
  return padded_cols(n) * int8_padded_k(k);
}

std::size_t PackedMatrixInt8::panels() const noexcept {
  return (n_ + kPanelWidth - 1) / kPanelWidth;
}

}  // namespace akidb::embed::native
