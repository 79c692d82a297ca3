// The bf16 GEMM micro-kernel on AVX512_BF16's vdpbf16ps, included by
// kernels_avx512.cpp only (it reuses that file's V512 and store_row). Its
// functions carry target("avx512bf16"): the file itself is compiled for
// AVX-512F, and avx512bf16_kernels() is chosen only on CPUs that have it.
// A's rows are rounded to bf16 (round to nearest even), 32 values at a time,
// into a small stack block; each vdpbf16ps adds a pair of products per
// output column into an fp32 accumulator. A row's arithmetic does not depend
// on the tile it is in (batch invariance).
#pragma once

namespace avx512 {

#define AKIDB_DPBF16 __attribute__((target("avx512f,avx512bf16,avx512bw")))

AKIDB_DPBF16 inline __mmask16 dp_mask(std::size_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffffu)
                 : static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u);
}

template <class V, std::size_t R>
AKIDB_DPBF16 void micro_tile_dpbf16(const GemmArgs& g, std::size_t m0, std::size_t panel) {
  constexpr std::size_t kChunk = 32;  // k values (16 pairs) converted at a time
  __m512 acc[R][2];
  for (std::size_t r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const std::size_t pairs = (g.k + 1) / 2;
  const std::uint32_t* b = g.packed_pairs + panel * pairs * kPanelWidth;
  const float* a = g.a + m0 * g.lda;
  alignas(64) std::uint32_t block[R][kChunk / 2];
  for (std::size_t k0 = 0; k0 < g.k; k0 += kChunk) {
    const std::size_t kn = min_size(kChunk, g.k - k0);
    for (std::size_t r = 0; r < R; ++r) {
      const float* row = a + r * g.lda + k0;
      const __m512 lo = _mm512_maskz_loadu_ps(dp_mask(kn), row);
      const __m512 hi = _mm512_maskz_loadu_ps(dp_mask(kn > 16 ? kn - 16 : 0), row + 16);
      _mm512_store_si512(block[r], __builtin_bit_cast(__m512i, _mm512_cvtne2ps_pbh(hi, lo)));
    }
    const std::size_t np = (kn + 1) / 2;
    for (std::size_t p = 0; p < np; ++p, b += kPanelWidth) {
      const __m512bh b0 = __builtin_bit_cast(__m512bh, _mm512_loadu_si512(b));
      const __m512bh b1 = __builtin_bit_cast(__m512bh, _mm512_loadu_si512(b + 16));
#pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r) {
        const __m512bh av =
            __builtin_bit_cast(__m512bh, _mm512_set1_epi32(static_cast<int>(block[r][p])));
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], av, b0);
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], av, b1);
      }
    }
  }
  for (std::size_t r = 0; r < R; ++r) store_row<V>(g, m0 + r, panel, acc[r]);
}

template <class V, std::size_t R>
AKIDB_DPBF16 void tile_dispatch_dpbf16(const GemmArgs& g, std::size_t m0, std::size_t rows,
                                       std::size_t panel) {
  if constexpr (R == 0) {
    (void)g, (void)m0, (void)rows, (void)panel;
  } else if (rows == R) {
    micro_tile_dpbf16<V, R>(g, m0, panel);
  } else {
    tile_dispatch_dpbf16<V, R - 1>(g, m0, rows, panel);
  }
}

template <class V, std::size_t MaxRows>
AKIDB_DPBF16 void gemm_panel_dpbf16(const GemmArgs& g, std::size_t m0, std::size_t m1,
                                    std::size_t panel) {
  const std::size_t rows = m1 - m0;
  const std::size_t tiles = (rows + MaxRows - 1) / MaxRows;
  std::size_t begin = m0;
  for (std::size_t t = 0; t < tiles; ++t) {
    const std::size_t end = m0 + rows * (t + 1) / tiles;
    tile_dispatch_dpbf16<V, MaxRows>(g, begin, end - begin, panel);
    begin = end;
  }
}

#undef AKIDB_DPBF16

}  // namespace avx512
