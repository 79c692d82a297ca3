#include "akidb/embed/pooling.hpp"

#include <algorithm>
#include <cmath>

namespace akidb::embed {

// The loops are written so that GCC/Clang vectorize them (-O3, -march=native):
// contiguous float rows, no aliasing, no branches in the inner loop.
void mean_pool(const float* __restrict hidden, const std::int64_t* mask, std::size_t seq,
               std::size_t dim, float* __restrict out) noexcept {
  std::fill(out, out + dim, 0.0f);
  std::size_t count = 0;
  for (std::size_t t = 0; t < seq; ++t) {
    if (mask[t] == 0) continue;
    const float* row = hidden + t * dim;
    for (std::size_t d = 0; d < dim; ++d) out[d] += row[d];
    ++count;
  }
  // sentence-transformers clamps the token count at 1e-9: an all-padding row stays zero.
  const float scale = count == 0 ? 0.0f : 1.0f / static_cast<float>(count);
  for (std::size_t d = 0; d < dim; ++d) out[d] *= scale;
}

void l2_normalize(float* v, std::size_t dim) noexcept {
  float sum = 0.0f;
  for (std::size_t d = 0; d < dim; ++d) sum += v[d] * v[d];
  // torch.nn.functional.normalize: divide by max(norm, 1e-12).
  const float scale = 1.0f / std::max(std::sqrt(sum), 1e-12f);
  for (std::size_t d = 0; d < dim; ++d) v[d] *= scale;
}

}  // namespace akidb::embed
