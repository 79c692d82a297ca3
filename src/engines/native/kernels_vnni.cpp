// AVX512-VNNI int8 kernels (compiled with -mavx512f -mavx512bw -mavx512vnni
// -mfma; see CMakeLists.txt). vpdpbusd multiplies unsigned by signed bytes, so
// activations are stored shifted to uint8 (q + 128) and the kernel subtracts
// 128 * (column sum of the int8 weights), precomputed at load: one subtraction
// per output instead of a sign fix-up per multiply (the alternative, |a| times
// sign-adjusted weights, costs an extra op for every row and weight vector).
// No saturation: vpdpbusd adds four u8 x s8 products (each <= 255 * 127) into
// an int32 without saturating, and |sum| < 2^31 for k < 66,000.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define KERNEL_NS vnni
#include "kernels_impl.hpp"
#include "kernels_int8_impl.hpp"
#include "vec_avx512.hpp"

namespace akidb::embed::native::vnni {
namespace {

// acc += u8 a . s8 b per 32-bit lane (vpdpbusd). Inline asm: with the
// intrinsic, GCC 12 keeps the accumulators of rows >= 8 in zmm16-31 but
// computes into zmm0-15, copying and storing them to the stack on every k
// step (measured: ~2x slower); the "v" constraint lets it use all 32.
inline __m512i dpbusd(__m512i acc, __m512i a, __m512i b) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  return acc;
}

struct Vnni {
  template <std::size_t R>
  static void tile(const GemmInt8Args& g, std::size_t m0, std::size_t panel) {
    // Every loop over R fully unrolled, so the accumulators live in registers.
    __m512i lo[R], hi[R];  // columns 0-15 and 16-31
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
    const std::size_t groups = int8_padded_k(g.out.k) / kInt8Group;
    const std::int8_t* b = g.packed_b + panel * groups * kInt8Group * kPanelWidth;
    const std::uint8_t* a = g.a + m0 * g.lda;
    for (std::size_t kg = 0; kg < groups; ++kg, b += kInt8Group * kPanelWidth) {
      const __m512i b0 = _mm512_load_si512(b), b1 = _mm512_load_si512(b + 64);
#pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r) {
        const __m512i av =
            _mm512_set1_epi32(static_cast<int>(load_u32(a + r * g.lda + kg * kInt8Group)));
        lo[r] = dpbusd(lo[r], av, b0);
        hi[r] = dpbusd(hi[r], av, b1);
      }
    }
    // The sums go to memory before the epilogue's calls: accumulators live
    // across a call would make GCC 12 spill them inside the k loop.
    const std::int32_t* sums = g.col_sums + panel * kPanelWidth;
    const __m512i c0 = _mm512_slli_epi32(_mm512_loadu_si512(sums), 7);
    const __m512i c1 = _mm512_slli_epi32(_mm512_loadu_si512(sums + 16), 7);
    alignas(64) std::int32_t out[R][kPanelWidth];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      _mm512_store_si512(out[r], _mm512_sub_epi32(lo[r], c0));
      _mm512_store_si512(out[r] + 16, _mm512_sub_epi32(hi[r], c1));
    }
    for (std::size_t r = 0; r < R; ++r) {
      __m512 f[2] = {_mm512_cvtepi32_ps(_mm512_load_si512(out[r])),
                     _mm512_cvtepi32_ps(_mm512_load_si512(out[r] + 16))};
      finish_row<V512>(g, m0 + r, panel, f);
    }
  }
};

// q + 128 as uint8, 16 values at a time.
void quantize_rows(const float* x, std::size_t rows, std::size_t ldx, std::size_t k,
                   std::uint8_t* q, std::size_t ldq, float* scales) {
  for (std::size_t r = 0; r < rows; ++r) {
    const float* row = x + r * ldx;
    std::uint8_t* out = q + r * ldq;
    const float max_abs = row_max_abs<V512>(row, k);
    scales[r] = max_abs / 127.0f;
    const __m512 inv = _mm512_set1_ps(max_abs > 0.0f ? 127.0f / max_abs : 0.0f);
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    for (std::size_t i = 0; i < k; i += 16) {
      const std::size_t n = k - i < 16 ? k - i : 16;
      const __m512 y =
          _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(V512::loadp(row + i, n, 0.0f), inv), lo), hi);
      const __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(y), _mm512_set1_epi32(128));
      _mm512_mask_cvtepi32_storeu_epi8(out + i, V512::mask(n), v);
    }
    for (std::size_t i = k; i < ldq; ++i) out[i] = 128;  // q = 0
  }
}

}  // namespace
}  // namespace akidb::embed::native::vnni

namespace akidb::embed::native {

const Int8KernelTable& vnni_int8_kernels() noexcept {
  static constexpr Int8KernelTable table{"avx512-vnni", 14, &vnni::int8_gemm_panel<vnni::Vnni, 14>,
                                         &vnni::quantize_rows};
  return table;
}

}  // namespace akidb::embed::native
