#pragma once
// Pooling and normalization kernels (vectorized; no allocation).
#include <cstddef>
#include <cstdint>

namespace akidb::embed {

// Masked mean over the sequence axis: hidden is [seq, dim] for one input,
// mask holds seq entries (1 for real tokens). Writes dim floats to out.
void mean_pool(const float* hidden, const std::int64_t* mask, std::size_t seq, std::size_t dim,
               float* out) noexcept;

// Scales v to unit L2 norm in place (a zero vector stays zero).
void l2_normalize(float* v, std::size_t dim) noexcept;

}  // namespace akidb::embed
