#include "akidb/embed/pooling.hpp"

#include <algorithm>
#include <cmath>

namespace akidb::embed {

// The loops are written so that GCC/Clang vectorize them: contiguous float
// rows, no aliasing, no branches in the inner loop.
void mean_pool(const float* __restrict hidden, std::size_t tokens, std::size_t dim,
               float* __restrict out) noexcept {
  std::fill(out, out + dim, 0.0f);
  for (std::size_t t = 0; t < tokens; ++t) {
    const float* row = hidden + t * dim;
    for (std::size_t d = 0; d < dim; ++d) out[d] += row[d];
  }
  // sentence-transformers clamps the token count at 1e-9: no tokens stays zero.
  const float scale = tokens == 0 ? 0.0f : 1.0f / static_cast<float>(tokens);
  for (std::size_t d = 0; d < dim; ++d) out[d] *= scale;
}

// Per-dimension max; sentence-transformers sets masked rows to -1e9 first,
// so a sequence with no rows left pools to -1e9 everywhere.
void max_pool(const float* __restrict hidden, std::size_t tokens, std::size_t dim,
              float* __restrict out) noexcept {
  std::fill(out, out + dim, -1e9f);
  for (std::size_t t = 0; t < tokens; ++t) {
    const float* row = hidden + t * dim;
    for (std::size_t d = 0; d < dim; ++d) out[d] = std::max(out[d], row[d]);
  }
}

// The sum divided by sqrt(tokens) (sentence-transformers' mean_sqrt_len_tokens).
void mean_sqrt_len_pool(const float* hidden, std::size_t tokens, std::size_t dim,
                        float* out) noexcept {
  mean_pool(hidden, tokens, dim, out);
  const float scale = std::sqrt(static_cast<float>(tokens));
  for (std::size_t d = 0; d < dim; ++d) out[d] *= scale;
}

void pool(Pooling pooling, const float* hidden, std::size_t tokens, std::size_t dim, float* out,
          std::size_t skip) noexcept {
  if (pooling == Pooling::Cls && tokens > 0) {
    std::copy_n(hidden, dim, out);
    return;
  }
  skip = std::min(skip, tokens);
  const float* rows = hidden + skip * dim;
  const std::size_t kept = tokens - skip;
  switch (pooling) {
    case Pooling::Max:
      max_pool(rows, kept, dim, out);
      return;
    case Pooling::MeanSqrtLen:
      mean_sqrt_len_pool(rows, kept, dim, out);
      return;
    case Pooling::Mean:
    case Pooling::Cls:
      mean_pool(rows, kept, dim, out);
      return;
  }
}

void l2_normalize(float* v, std::size_t dim) noexcept {
  float sum = 0.0f;
  for (std::size_t d = 0; d < dim; ++d) sum += v[d] * v[d];
  // torch.nn.functional.normalize: divide by max(norm, 1e-12).
  const float scale = 1.0f / std::max(std::sqrt(sum), 1e-12f);
  for (std::size_t d = 0; d < dim; ++d) v[d] *= scale;
}

Embeddings truncate_dimensions(const Embeddings& embeddings, std::size_t dimensions,
                               bool normalize) {
  Embeddings out(embeddings.rows(), dimensions);
  for (std::size_t i = 0; i < embeddings.rows(); ++i) {
    const auto row = embeddings.row(i).first(dimensions);
    std::copy(row.begin(), row.end(), out.row(i).begin());
    if (normalize) l2_normalize(out.row(i).data(), dimensions);
  }
  return out;
}

}  // namespace akidb::embed
