#include "relative_position.hpp"

#include <algorithm>
#include <cmath>

namespace akidb::embed::native {

std::size_t relative_position_bucket(std::int64_t relative_position, std::size_t buckets,
                                     std::int64_t max_distance) noexcept {
  const auto half = static_cast<std::int64_t>(buckets / 2);
  std::int64_t n = -relative_position;
  const std::int64_t base = n < 0 ? half : 0;
  n = n < 0 ? -n : n;
  const std::int64_t max_exact = half / 2;
  if (n < max_exact) return static_cast<std::size_t>(base + n);
  // Same float32 steps as torch: log(n / max_exact) / log(max_distance / max_exact) * (half -
  // max_exact).
  const float ratio = std::log(static_cast<float>(n) / static_cast<float>(max_exact)) /
                      static_cast<float>(std::log(static_cast<double>(max_distance) /
                                                  static_cast<double>(max_exact)));
  const auto large =
      max_exact + static_cast<std::int64_t>(ratio * static_cast<float>(half - max_exact));
  return static_cast<std::size_t>(base + std::min(large, half - 1));
}

AlignedBuffer bias_by_distance(std::span<const float> bias, std::size_t buckets, std::size_t heads,
                               std::size_t max_positions) {
  const std::size_t width = 2 * max_positions - 1;
  AlignedBuffer table(heads * width);
  for (std::size_t k = 0; k < width; ++k) {
    const auto distance =
        static_cast<std::int64_t>(k) - static_cast<std::int64_t>(max_positions - 1);
    const std::size_t bucket = relative_position_bucket(distance, buckets);
    for (std::size_t h = 0; h < heads; ++h) table.data()[h * width + k] = bias[bucket * heads + h];
  }
  return table;
}

}  // namespace akidb::embed::native
