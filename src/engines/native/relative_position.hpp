#pragma once
// MPNet's relative position bias: transformers' MPNetEncoder
// .relative_position_bucket and the per-head table of bias by distance.
#include <cstddef>
#include <cstdint>
#include <span>

#include "aligned_buffer.hpp"

namespace akidb::embed::native {

inline constexpr std::int64_t kMpnetMaxDistance = 128;

// The bucket of relative position (key - query), as torch computes it: half
// the buckets for each direction, exact below a quarter of the buckets, then
// logarithmic up to max_distance (float32 arithmetic, truncated), clamped.
std::size_t relative_position_bucket(std::int64_t relative_position, std::size_t buckets,
                                     std::int64_t max_distance = kMpnetMaxDistance) noexcept;

// bias: [buckets, heads] (relative_attention_bias.weight). Returns
// [heads][2 * max_positions - 1]: entry d + max_positions - 1 of head h is
// the bias added to score (i, j) with j - i = d.
AlignedBuffer bias_by_distance(std::span<const float> bias, std::size_t buckets, std::size_t heads,
                               std::size_t max_positions);

}  // namespace akidb::embed::native
