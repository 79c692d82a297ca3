// AVX2 int8 kernels (compiled with -mavx2 -mfma; see CMakeLists.txt), the
// fallback for CPUs without AVX512-VNNI. vpmaddubsw multiplies unsigned by
// signed bytes and adds pairs into int16 with saturation: with activations
// shifted to uint8 a pair could reach 2 * 255 * 127 and saturate. Instead the
// activations stay int8 and each product is formed as |a| * (w * sign(a))
// (vpsignb): a pair is at most 2 * 127 * 127 = 32,258 < 32,767, so no
// saturation, and vpmaddwd widens the pairs into exact int32 sums: the same
// sums as the VNNI kernel.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define KERNEL_NS avx2_int8
#include "kernels_impl.hpp"
#include "kernels_int8_impl.hpp"
#include "vec_avx2.hpp"

namespace akidb::embed::native::avx2_int8 {
namespace {

struct Avx2Int8 {
  template <std::size_t R>
  static void tile(const GemmInt8Args& g, std::size_t m0, std::size_t panel) {
    constexpr std::size_t nv = kPanelWidth / 8;
    // Every loop over R and nv fully unrolled: the accumulators live in registers.
    __m256i acc[R][nv];
#pragma GCC unroll 4
    for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (std::size_t v = 0; v < nv; ++v) acc[r][v] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    const std::size_t groups = int8_padded_k(g.out.k) / kInt8Group;
    const std::int8_t* b = g.packed_b + panel * groups * kInt8Group * kPanelWidth;
    const std::uint8_t* a = g.a + m0 * g.lda;
    for (std::size_t kg = 0; kg < groups; ++kg, b += kInt8Group * kPanelWidth) {
      __m256i bv[nv];
#pragma GCC unroll 4
      for (std::size_t v = 0; v < nv; ++v)
        bv[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + 32 * v));
#pragma GCC unroll 4
      for (std::size_t r = 0; r < R; ++r) {
        const __m256i av =
            _mm256_set1_epi32(static_cast<int>(load_u32(a + r * g.lda + kg * kInt8Group)));
        const __m256i abs_a = _mm256_abs_epi8(av);
#pragma GCC unroll 4
        for (std::size_t v = 0; v < nv; ++v) {
          const __m256i pairs = _mm256_maddubs_epi16(abs_a, _mm256_sign_epi8(bv[v], av));
          acc[r][v] = _mm256_add_epi32(acc[r][v], _mm256_madd_epi16(pairs, ones));
        }
      }
    }
    // To memory before the epilogue's calls (see kernels_vnni.cpp).
    alignas(32) std::int32_t out[R][kPanelWidth];
#pragma GCC unroll 4
    for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (std::size_t v = 0; v < nv; ++v)
        _mm256_store_si256(reinterpret_cast<__m256i*>(out[r] + 8 * v), acc[r][v]);
    for (std::size_t r = 0; r < R; ++r) {
      __m256 f[nv];
      for (std::size_t v = 0; v < nv; ++v)
        f[v] =
            _mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(out[r] + 8 * v)));
      finish_row<V256>(g, m0 + r, panel, f);
    }
  }
};

// q as int8, 8 values at a time.
void quantize_rows(const float* x, std::size_t rows, std::size_t ldx, std::size_t k,
                   std::uint8_t* q, std::size_t ldq, float* scales) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = x + r * ldx;
    std::uint8_t* out = q + r * ldq;
    const float max_abs = row_max_abs<V256>(row, k);
    scales[r] = max_abs / 127.0f;
    const __m256 inv = _mm256_set1_ps(max_abs > 0.0f ? 127.0f / max_abs : 0.0f);
    const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
    for (std::size_t i = 0; i < k; i += 8) {
      const std::size_t n = k - i < 8 ? k - i : 8;
      const __m256 y =
          _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(V256::loadp(row + i, n, 0.0f), inv), lo), hi);
      const __m256i v = _mm256_cvtps_epi32(y);
      const __m128i w16 =
          _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      const __m128i b8 = _mm_packs_epi16(w16, w16);
      alignas(16) std::uint8_t bytes[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(bytes), b8);
      for (std::size_t j = 0; j < n; ++j) out[i + j] = bytes[j];
    }
    for (std::size_t i = k; i < ldq; ++i) out[i] = 0;
  }
}

}  // namespace
}  // namespace akidb::embed::native::avx2_int8

namespace akidb::embed::native {

const Int8KernelTable& avx2_int8_kernels() noexcept {
  static constexpr Int8KernelTable table{
      "avx2", 2, &avx2_int8::int8_gemm_panel<avx2_int8::Avx2Int8, 2>, &avx2_int8::quantize_rows};
  return table;
}

}  // namespace akidb::embed::native
