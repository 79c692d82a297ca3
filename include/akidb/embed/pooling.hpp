#pragma once
// Pooling and normalization kernels (vectorized; no allocation).
#include <cstddef>

#include "akidb/embed/manifest.hpp"
#include "akidb/embed/types.hpp"

namespace akidb::embed {

// Mean over the rows of one sequence's hidden states ([tokens, dim], every
// row a real token). Writes dim floats to out; zero tokens give zeros.
void mean_pool(const float* hidden, std::size_t tokens, std::size_t dim, float* out) noexcept;

// Pools one sequence's hidden states ([tokens, dim]) as the model says,
// leaving out its first `skip` tokens (the prompt, when the model's
// include_prompt is false) the way sentence-transformers masks them: mean,
// max and mean-sqrt-len ignore them, CLS still takes row 0.
void pool(Pooling pooling, const float* hidden, std::size_t tokens, std::size_t dim, float* out,
          std::size_t skip = 0) noexcept;

// Scales v to unit L2 norm in place (a zero vector stays zero).
void l2_normalize(float* v, std::size_t dim) noexcept;

// Keeps the first `dimensions` values of each row and re-normalizes them
// (when `normalize`); returns a new matrix.
Embeddings truncate_dimensions(const Embeddings& embeddings, std::size_t dimensions,
                               bool normalize);

}  // namespace akidb::embed
