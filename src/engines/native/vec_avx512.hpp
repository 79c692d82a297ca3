#pragma once
// The AVX512 float vector type the kernel bodies (kernels_impl.hpp) are
// written against. Include only from files compiled with the AVX512 flags,
// after defining KERNEL_NS: the type has internal linkage, so every template
// instantiated with it stays in that file, with that file's flags.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace akidb::embed::native::KERNEL_NS {
namespace {

struct V512 {
  using T = __m512;
  static constexpr std::size_t W = 16;
  static __mmask16 mask(std::size_t n) {
    return static_cast<__mmask16>((1u << static_cast<unsigned>(n)) - 1u);
  }
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static T loadp(const float* p, std::size_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), mask(n), p);
  }
  static T keep(T x, std::size_t n) { return _mm512_maskz_mov_ps(mask(n), x); }
  static void store(float* p, T x) { _mm512_storeu_ps(p, x); }
  static void storep(float* p, std::size_t n, T x) { _mm512_mask_storeu_ps(p, mask(n), x); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T div(T a, T b) { return _mm512_div_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T max(T a, T b) { return _mm512_max_ps(a, b); }
  static T abs(T x) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
  }
  static T copysign(T magnitude, T sign) {
    const __m512i s = _mm512_and_si512(_mm512_castps_si512(sign),
                                       _mm512_set1_epi32(static_cast<int>(0x80000000u)));
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(magnitude), s));
  }
  // The low / high bf16 halves of 16 words, as fp32 (exact).
  static T widen_low(const std::uint32_t* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_loadu_si512(p), 16));
  }
  static T widen_high(const std::uint32_t* p) {
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_loadu_si512(p), _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static float hsum(T x) { return _mm512_reduce_add_ps(x); }
  static float hmax(T x) { return _mm512_reduce_max_ps(x); }
  static float sqrt_scalar(float x) { return __builtin_sqrtf(x); }
  // Cephes-style expf: 2^n * p(r), r = x - n ln2; about 1 ulp.
  static T exp(T x) {
    x = _mm512_min_ps(_mm512_max_ps(x, set1(-87.33654f)), set1(88.72283f));
    const T n = _mm512_roundscale_ps(mul(x, set1(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    T r = _mm512_fnmadd_ps(n, set1(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, set1(-2.12194440e-4f), r);
    T p = set1(1.9875691500e-4f);
    p = fma(p, r, set1(1.3981999507e-3f));
    p = fma(p, r, set1(8.3334519073e-3f));
    p = fma(p, r, set1(4.1665795894e-2f));
    p = fma(p, r, set1(1.6666665459e-1f));
    p = fma(p, r, set1(5.0000001201e-1f));
    p = fma(mul(p, r), r, add(r, set1(1.0f)));
    return _mm512_scalef_ps(p, n);
  }
};

}  // namespace
}  // namespace akidb::embed::native::KERNEL_NS
