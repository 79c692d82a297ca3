#pragma once
// The AVX2 float vector type the kernel bodies (kernels_impl.hpp) are
// written against. Include only from files compiled with the AVX2 flags,
// after defining KERNEL_NS: the type has internal linkage, so every template
// instantiated with it stays in that file, with that file's flags.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

namespace akidb::embed::native::KERNEL_NS {
namespace {

struct V256 {
  using T = __m256;
  static constexpr std::size_t W = 8;
  static __m256i mask(std::size_t n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), lanes);
  }
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static T loadp(const float* p, std::size_t n, float fill) {
    const __m256i m = mask(n);
    return _mm256_blendv_ps(set1(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static T keep(T x, std::size_t n) { return _mm256_and_ps(x, _mm256_castsi256_ps(mask(n))); }
  static void store(float* p, T x) { _mm256_storeu_ps(p, x); }
  static void storep(float* p, std::size_t n, T x) { _mm256_maskstore_ps(p, mask(n), x); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T div(T a, T b) { return _mm256_div_ps(a, b); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T max(T a, T b) { return _mm256_max_ps(a, b); }
  static T abs(T x) { return _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static T copysign(T magnitude, T sign) {
    const T s =
        _mm256_and_ps(sign, _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(0x80000000u))));
    return _mm256_or_ps(magnitude, s);
  }
  // The low / high bf16 halves of 8 words, as fp32 (exact).
  static T widen_low(const std::uint32_t* p) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static T widen_high(const std::uint32_t* p) {
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm256_castsi256_ps(
        _mm256_and_si256(w, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  }
  static float hsum(T x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(T x) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float sqrt_scalar(float x) { return __builtin_sqrtf(x); }
  // The same expf as the AVX-512 kernels; 2^n built in the exponent bits.
  static T exp(T x) {
    x = _mm256_min_ps(_mm256_max_ps(x, set1(-87.33654f)), set1(88.72283f));
    const T n = _mm256_round_ps(mul(x, set1(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    T r = _mm256_fnmadd_ps(n, set1(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, set1(-2.12194440e-4f), r);
    T p = set1(1.9875691500e-4f);
    p = fma(p, r, set1(1.3981999507e-3f));
    p = fma(p, r, set1(8.3334519073e-3f));
    p = fma(p, r, set1(4.1665795894e-2f));
    p = fma(p, r, set1(1.6666665459e-1f));
    p = fma(p, r, set1(5.0000001201e-1f));
    p = fma(mul(p, r), r, add(r, set1(1.0f)));
    // n in [-127, 128]: split 2^n = 2^(n/2) * 2^(n - n/2) so no step overflows.
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i half = _mm256_srai_epi32(ni, 1);
    const auto pow2 = [](__m256i e) {
      return _mm256_castsi256_ps(
          _mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23));
    };
    return mul(mul(p, pow2(half)), pow2(_mm256_sub_epi32(ni, half)));
  }
};

}  // namespace
}  // namespace akidb::embed::native::KERNEL_NS
