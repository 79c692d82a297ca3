#pragma once
// ISA-independent parts of the int8 kernels (kernels_int8.hpp): row
// splitting, dequantization and the fp32 epilogue, compiled per ISA after
// kernels_impl.hpp and the ISA's vector type. K provides
// `template <std::size_t R> static void tile(const GemmInt8Args&, m0, panel)`.
#include <cstddef>
#include <cstdint>

#include "kernels_impl.hpp"
#include "kernels_int8.hpp"

namespace akidb::embed::native::KERNEL_NS {

inline std::uint32_t load_u32(const std::uint8_t* p) {
  std::uint32_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}

// max |x[0, k)| (exact in any order).
template <class V>
float row_max_abs(const float* x, std::size_t k) {
  auto mx = V::zero();
  std::size_t i = 0;
  for (; i + V::W <= k; i += V::W) mx = V::max(mx, V::abs(V::load(x + i)));
  if (i < k) mx = V::max(mx, V::abs(V::loadp(x + i, k - i, 0.0f)));
  return V::hmax(mx);
}

// acc: one row's int32 sums converted to float; C = acc * row scale * column
// scale, then bias, GELU and residual as in the fp32 GEMM.
template <class V>
void finish_row(const GemmInt8Args& g, std::size_t row, std::size_t panel,
                typename V::T (&acc)[kPanelWidth / V::W]) {
  const auto rs = V::set1(g.row_scales[row]);
  const float* cs = g.col_scales + panel * kPanelWidth;
  for (std::size_t v = 0; v < kPanelWidth / V::W; ++v)
    acc[v] = V::mul(V::mul(acc[v], rs), V::load(cs + v * V::W));
  store_row<V>(g.out, row, panel, acc);
}

template <class K, std::size_t R>
void int8_tile_dispatch(const GemmInt8Args& g, std::size_t m0, std::size_t rows,
                        std::size_t panel) {
  if constexpr (R == 0) {
    (void)g, (void)m0, (void)rows, (void)panel;
  } else if (rows == R) {
    K::template tile<R>(g, m0, panel);
  } else {
    int8_tile_dispatch<K, R - 1>(g, m0, rows, panel);
  }
}

// Rows [m0, m1) in near-equal tiles of at most MaxRows rows. Integer sums are
// exact, so a row's result does not depend on its tile.
template <class K, std::size_t MaxRows>
void int8_gemm_panel(const GemmInt8Args& g, std::size_t m0, std::size_t m1, std::size_t panel) {
  const std::size_t rows = m1 - m0;
  const std::size_t tiles = (rows + MaxRows - 1) / MaxRows;
  std::size_t begin = m0;
  for (std::size_t t = 0; t < tiles; ++t) {
    const std::size_t end = m0 + rows * (t + 1) / tiles;
    int8_tile_dispatch<K, MaxRows>(g, begin, end - begin, panel);
    begin = end;
  }
}

}  // namespace akidb::embed::native::KERNEL_NS
