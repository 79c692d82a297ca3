#pragma once
// ISA-independent kernel bodies, written once against a vector type V and
// compiled per ISA (kernels_avx512.cpp, kernels_avx2.cpp) inside that ISA's
// namespace. Deliberately free of standard-library templates: an inline
// std:: function compiled with AVX-512 flags could be picked by the linker
// for code that runs on an AVX2-only CPU.
//
// V provides: T, W (floats per vector), zero, set1, load, loadp (first n
// lanes, others `fill`), keep (zero lanes from n on), store, storep, add, sub, mul, fma (a * b +
// c), max, div, abs, copysign, hsum, hmax, exp, sqrt_scalar.
#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

namespace akidb::embed::native::KERNEL_NS {

inline std::size_t min_size(std::size_t a, std::size_t b) { return a < b ? a : b; }

// ---- element-wise math ---------------------------------------------------

// erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), as PyTorch's
// vectorized CPU erf.
template <class V>
typename V::T erf(typename V::T x) {
  const auto abs_x = V::abs(x);
  const auto t = V::div(V::set1(1.0f), V::fma(V::set1(0.3275911f), abs_x, V::set1(1.0f)));
  auto poly = V::set1(1.061405429f);
  poly = V::fma(poly, t, V::set1(-1.453152027f));
  poly = V::fma(poly, t, V::set1(1.421413741f));
  poly = V::fma(poly, t, V::set1(-0.284496736f));
  poly = V::fma(poly, t, V::set1(0.254829592f));
  poly = V::mul(poly, t);
  const auto e = V::exp(V::sub(V::zero(), V::mul(abs_x, abs_x)));
  const auto r = V::sub(V::set1(1.0f), V::mul(poly, e));
  return V::copysign(r, x);
}

// HF "gelu": 0.5 * x * (1 + erf(x / sqrt(2))).
template <class V>
typename V::T gelu(typename V::T x) {
  const auto e = erf<V>(V::mul(x, V::set1(0.70710678118654752f)));
  return V::mul(V::mul(V::set1(0.5f), x), V::add(V::set1(1.0f), e));
}

template <class V>
void gelu_inplace(float* x, std::size_t n) {
  std::size_t i = 0;
  for (; i + V::W <= n; i += V::W) V::store(x + i, gelu<V>(V::load(x + i)));
  if (i < n) V::storep(x + i, n - i, gelu<V>(V::loadp(x + i, n - i, 0.0f)));
}

// ---- GEMM ----------------------------------------------------------------

// Bias, GELU and residual on one row of accumulators, then the store.
template <class V>
void store_row(const GemmArgs& g, std::size_t row, std::size_t panel,
               typename V::T (&acc)[kPanelWidth / V::W]) {
  constexpr std::size_t nv = kPanelWidth / V::W;
  const std::size_t col = panel * kPanelWidth;
  const std::size_t valid = min_size(kPanelWidth, g.n - col);
  float* c = g.c + row * g.ldc + col;
  const float* res =
      g.epilogue == Epilogue::BiasResidual ? g.residual + row * g.ldr + col : nullptr;
  for (std::size_t v = 0; v < nv; ++v) {
    auto x = V::add(acc[v], V::load(g.bias + col + v * V::W));
    if (g.epilogue == Epilogue::BiasGelu) x = gelu<V>(x);
    const std::size_t lo = v * V::W;
    if (lo >= valid) break;
    const std::size_t lanes = min_size(V::W, valid - lo);
    if (lanes == V::W) {
      if (res) x = V::add(x, V::load(res + lo));
      V::store(c + lo, x);
    } else {
      if (res) x = V::add(x, V::loadp(res + lo, lanes, 0.0f));
      V::storep(c + lo, lanes, x);
    }
  }
}

// R rows of one panel: acc[r][v] += A[r][kk] * B[kk][v], over all k.
template <class V, std::size_t R>
void micro_tile(const GemmArgs& g, std::size_t m0, std::size_t panel) {
  constexpr std::size_t nv = kPanelWidth / V::W;
  typename V::T acc[R][nv];
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t v = 0; v < nv; ++v) acc[r][v] = V::zero();
  const float* b = g.packed_b + panel * g.k * kPanelWidth;
  const float* a = g.a + m0 * g.lda;
  // Fully unrolled so the accumulators live in registers (checked: no
  // spills at -O3 with GCC 12 for R = 14 on AVX-512).
  for (std::size_t kk = 0; kk < g.k; ++kk, b += kPanelWidth) {
    typename V::T bv[nv];
#pragma GCC unroll 8
    for (std::size_t v = 0; v < nv; ++v) bv[v] = V::load(b + v * V::W);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const auto av = V::set1(a[r * g.lda + kk]);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < nv; ++v) acc[r][v] = V::fma(av, bv[v], acc[r][v]);
    }
  }
  for (std::size_t r = 0; r < R; ++r) store_row<V>(g, m0 + r, panel, acc[r]);
}

template <class V, std::size_t R>
void tile_dispatch(const GemmArgs& g, std::size_t m0, std::size_t rows, std::size_t panel) {
  if constexpr (R == 0) {
    (void)g, (void)m0, (void)rows, (void)panel;
  } else if (rows == R) {
    micro_tile<V, R>(g, m0, panel);
  } else {
    tile_dispatch<V, R - 1>(g, m0, rows, panel);
  }
}

// Rows [m0, m1) in near-equal tiles of at most MaxRows rows.
template <class V, std::size_t MaxRows>
void gemm_panel(const GemmArgs& g, std::size_t m0, std::size_t m1, std::size_t panel) {
  const std::size_t rows = m1 - m0;
  const std::size_t tiles = (rows + MaxRows - 1) / MaxRows;
  std::size_t begin = m0;
  for (std::size_t t = 0; t < tiles; ++t) {
    const std::size_t end = m0 + rows * (t + 1) / tiles;
    tile_dispatch<V, MaxRows>(g, begin, end - begin, panel);
    begin = end;
  }
}

// ---- GEMM with bf16 weights, widened to fp32 ------------------------------

// R rows of one panel of bf16 pairs: each word holds W[col][2 kp] in its low
// and W[col][2 kp + 1] in its high half; shifting / masking gives the fp32
// values exactly, so only the weights' rounding to bf16 differs from fp32.
template <class V, std::size_t R>
void micro_tile_widen(const GemmArgs& g, std::size_t m0, std::size_t panel) {
  constexpr std::size_t nv = kPanelWidth / V::W;
  typename V::T acc[R][nv];
  for (std::size_t r = 0; r < R; ++r)
    for (std::size_t v = 0; v < nv; ++v) acc[r][v] = V::zero();
  const std::size_t pairs = (g.k + 1) / 2;
  const std::uint32_t* b = g.packed_pairs + panel * pairs * kPanelWidth;
  const float* a = g.a + m0 * g.lda;
  const std::size_t full = g.k / 2;  // pairs with both halves inside k
  for (std::size_t kp = 0; kp < full; ++kp, b += kPanelWidth) {
    if constexpr (nv <= 2) {
      // AVX-512: the panel's widened weights fit in registers beside the
      // accumulators, so two broadcasts per row feed 2 * nv FMAs.
      typename V::T even[nv], odd[nv];
#pragma GCC unroll 8
      for (std::size_t v = 0; v < nv; ++v) {
        even[v] = V::widen_low(b + v * V::W);
        odd[v] = V::widen_high(b + v * V::W);
      }
#pragma GCC unroll 16
      for (std::size_t r = 0; r < R; ++r) {
        const auto ae = V::set1(a[r * g.lda + 2 * kp]), ao = V::set1(a[r * g.lda + 2 * kp + 1]);
#pragma GCC unroll 8
        for (std::size_t v = 0; v < nv; ++v) {
          acc[r][v] = V::fma(ae, even[v], acc[r][v]);
          acc[r][v] = V::fma(ao, odd[v], acc[r][v]);
        }
      }
    } else {
      // AVX2 (16 registers): one vector of weights at a time.
#pragma GCC unroll 8
      for (std::size_t v = 0; v < nv; ++v) {
        const auto even = V::widen_low(b + v * V::W), odd = V::widen_high(b + v * V::W);
#pragma GCC unroll 16
        for (std::size_t r = 0; r < R; ++r) {
          acc[r][v] = V::fma(V::set1(a[r * g.lda + 2 * kp]), even, acc[r][v]);
          acc[r][v] = V::fma(V::set1(a[r * g.lda + 2 * kp + 1]), odd, acc[r][v]);
        }
      }
    }
  }
  if (full < pairs) {  // odd k: the last pair's high half is padding
    for (std::size_t v = 0; v < nv; ++v) {
      const auto even = V::widen_low(b + v * V::W);
      for (std::size_t r = 0; r < R; ++r)
        acc[r][v] = V::fma(V::set1(a[r * g.lda + 2 * full]), even, acc[r][v]);
    }
  }
  for (std::size_t r = 0; r < R; ++r) store_row<V>(g, m0 + r, panel, acc[r]);
}

template <class V, std::size_t R>
void tile_dispatch_widen(const GemmArgs& g, std::size_t m0, std::size_t rows, std::size_t panel) {
  if constexpr (R == 0) {
    (void)g, (void)m0, (void)rows, (void)panel;
  } else if (rows == R) {
    micro_tile_widen<V, R>(g, m0, panel);
  } else {
    tile_dispatch_widen<V, R - 1>(g, m0, rows, panel);
  }
}

template <class V, std::size_t MaxRows>
void gemm_panel_widen(const GemmArgs& g, std::size_t m0, std::size_t m1, std::size_t panel) {
  const std::size_t rows = m1 - m0;
  const std::size_t tiles = (rows + MaxRows - 1) / MaxRows;
  std::size_t begin = m0;
  for (std::size_t t = 0; t < tiles; ++t) {
    const std::size_t end = m0 + rows * (t + 1) / tiles;
    tile_dispatch_widen<V, MaxRows>(g, begin, end - begin, panel);
    begin = end;
  }
}

// ---- attention -----------------------------------------------------------

// Attention works on blocks of kQueries query rows, so every K^T and V load
// feeds kQueries FMAs. A short last block repeats its last row (computed
// again, stored once): each row's arithmetic is the same whatever its block.
inline constexpr std::size_t kQueries = kAttentionQueryRows;

// scores[r][j] = scale * q_r . k_j for j < padded (K^T rows of `padded`
// floats, padded a multiple of 16, so of V::W).
template <class V>
void scores_block(const float* const (&q)[kQueries], const float* kt, std::size_t head_dim,
                  std::size_t padded, float scale, float* const (&scores)[kQueries]) {
  std::size_t j = 0;
  for (; j + 2 * V::W <= padded; j += 2 * V::W) {
    typename V::T acc[kQueries][2];
    for (auto& row : acc) row[0] = row[1] = V::zero();
    for (std::size_t d = 0; d < head_dim; ++d) {
      const auto k0 = V::load(kt + d * padded + j), k1 = V::load(kt + d * padded + j + V::W);
#pragma GCC unroll 8
      for (std::size_t r = 0; r < kQueries; ++r) {
        const auto qd = V::set1(q[r][d]);
        acc[r][0] = V::fma(qd, k0, acc[r][0]);
        acc[r][1] = V::fma(qd, k1, acc[r][1]);
      }
    }
    for (std::size_t r = 0; r < kQueries; ++r) {
      V::store(scores[r] + j, V::mul(acc[r][0], V::set1(scale)));
      V::store(scores[r] + j + V::W, V::mul(acc[r][1], V::set1(scale)));
    }
  }
  for (; j < padded; j += V::W) {
    typename V::T acc[kQueries];
    for (auto& a : acc) a = V::zero();
    for (std::size_t d = 0; d < head_dim; ++d) {
      const auto k0 = V::load(kt + d * padded + j);
      for (std::size_t r = 0; r < kQueries; ++r) acc[r] = V::fma(V::set1(q[r][d]), k0, acc[r]);
    }
    for (std::size_t r = 0; r < kQueries; ++r)
      V::store(scores[r] + j, V::mul(acc[r], V::set1(scale)));
  }
}

// scores[0, n) = exp(scores - max); returns their sum.
template <class V>
float softmax_numerators(float* scores, std::size_t n) {
  auto mx = V::set1(-3.4e38f);
  std::size_t j = 0;
  for (; j + V::W <= n; j += V::W) mx = V::max(mx, V::load(scores + j));
  if (j < n) mx = V::max(mx, V::loadp(scores + j, n - j, -3.4e38f));
  const auto m = V::set1(V::hmax(mx));
  auto sum = V::zero();
  for (j = 0; j + V::W <= n; j += V::W) {
    const auto e = V::exp(V::sub(V::load(scores + j), m));
    V::store(scores + j, e);
    sum = V::add(sum, e);
  }
  if (j < n) {
    const auto e = V::exp(V::sub(V::loadp(scores + j, n - j, 0.0f), m));
    const auto masked = V::keep(e, n - j);
    V::storep(scores + j, n - j, masked);
    sum = V::add(sum, masked);
  }
  return V::hsum(sum);
}

// out[r][d] = inv_sum[r] * sum_j p[r][j] * v_j[d], in chunks of two vectors.
template <class V>
void values_block(const float* const (&p)[kQueries], std::size_t length, const float* v,
                  std::size_t ld, std::size_t head_dim, const float (&inv_sum)[kQueries],
                  float* const (&out)[kQueries]) {
  for (std::size_t d = 0; d < head_dim; d += 2 * V::W) {
    const std::size_t lanes0 = min_size(V::W, head_dim - d);
    const std::size_t lanes1 = d + V::W < head_dim ? min_size(V::W, head_dim - d - V::W) : 0;
    typename V::T acc[kQueries][2];
    for (auto& row : acc) row[0] = row[1] = V::zero();
    for (std::size_t j = 0; j < length; ++j) {
      const float* vj = v + j * ld + d;
      const auto v0 = V::loadp(vj, lanes0, 0.0f);
      const auto v1 = lanes1 ? V::loadp(vj + V::W, lanes1, 0.0f) : V::zero();
#pragma GCC unroll 8
      for (std::size_t r = 0; r < kQueries; ++r) {
        const auto pj = V::set1(p[r][j]);
        acc[r][0] = V::fma(pj, v0, acc[r][0]);
        acc[r][1] = V::fma(pj, v1, acc[r][1]);
      }
    }
    for (std::size_t r = 0; r < kQueries; ++r) {
      const auto scale = V::set1(inv_sum[r]);
      V::storep(out[r] + d, lanes0, V::mul(acc[r][0], scale));
      if (lanes1) V::storep(out[r] + d + V::W, lanes1, V::mul(acc[r][1], scale));
    }
  }
}

// x[0, n) += y[0, n) (y unaligned).
template <class V>
void add_row(float* x, const float* y, std::size_t n) {
  std::size_t j = 0;
  for (; j + V::W <= n; j += V::W) V::store(x + j, V::add(V::load(x + j), V::load(y + j)));
  if (j < n)
    V::storep(x + j, n - j, V::add(V::loadp(x + j, n - j, 0.0f), V::loadp(y + j, n - j, 0.0f)));
}

// K of this head transposed into kt[d * padded + j], zero beyond length.
inline void transpose_keys(const float* k, std::size_t ld, std::size_t length, std::size_t head_dim,
                           std::size_t padded, float* kt) {
  for (std::size_t d = 0; d < head_dim; ++d) {
    float* row = kt + d * padded;
    for (std::size_t j = 0; j < length; ++j) row[j] = k[j * ld + d];
    for (std::size_t j = length; j < padded; ++j) row[j] = 0.0f;
  }
}

template <class V>
void attention(const AttentionArgs& a, std::size_t first_token, std::size_t length,
               std::size_t head, float* scratch) {
  if (length == 0) return;
  const std::size_t padded = (length + 15) / 16 * 16;
  float* kt = scratch;
  const float* base = a.qkv + first_token * a.ld_qkv + head * a.head_dim;
  transpose_keys(base + a.hidden, a.ld_qkv, length, a.head_dim, padded, kt);
  const float* v = base + 2 * a.hidden;
  float* scores[kQueries];
  for (std::size_t r = 0; r < kQueries; ++r) scores[r] = kt + (a.head_dim + r) * padded;
  for (std::size_t i0 = 0; i0 < length; i0 += kQueries) {
    std::size_t rows[kQueries];
    for (std::size_t r = 0; r < kQueries; ++r) rows[r] = min_size(i0 + r, length - 1);
    const float* q[kQueries];
    for (std::size_t r = 0; r < kQueries; ++r) q[r] = base + rows[r] * a.ld_qkv;
    scores_block<V>(q, kt, a.head_dim, padded, a.scale, scores);
    if (a.position_bias != nullptr) {
      const float* table = a.position_bias + head * a.bias_width + a.bias_centre;
      for (std::size_t r = 0; r < kQueries; ++r) add_row<V>(scores[r], table - rows[r], length);
    }
    float inv[kQueries];
    for (std::size_t r = 0; r < kQueries; ++r)
      inv[r] = 1.0f / softmax_numerators<V>(scores[r], length);
    // Repeated rows write the same values to the same place.
    float* out[kQueries];
    const float* p[kQueries];
    for (std::size_t r = 0; r < kQueries; ++r) {
      out[r] = a.ctx + (first_token + rows[r]) * a.ld_ctx + head * a.head_dim;
      p[r] = scores[r];
    }
    values_block<V>(p, length, v, a.ld_qkv, a.head_dim, inv, out);
  }
}

// ---- layer norm ----------------------------------------------------------

template <class V>
void layer_norm_row(float* x, std::size_t n, const float* gamma, const float* beta, float eps) {
  auto sum = V::zero();
  std::size_t i = 0;
  for (; i + V::W <= n; i += V::W) sum = V::add(sum, V::load(x + i));
  if (i < n) sum = V::add(sum, V::loadp(x + i, n - i, 0.0f));
  const float mean = V::hsum(sum) / static_cast<float>(n);
  const auto m = V::set1(mean);
  auto sq = V::zero();
  for (i = 0; i + V::W <= n; i += V::W) {
    const auto d = V::sub(V::load(x + i), m);
    sq = V::fma(d, d, sq);
  }
  if (i < n) {
    const auto d = V::keep(V::sub(V::loadp(x + i, n - i, 0.0f), m), n - i);
    sq = V::fma(d, d, sq);
  }
  const float var = V::hsum(sq) / static_cast<float>(n);
  const auto inv = V::set1(1.0f / V::sqrt_scalar(var + eps));
  for (i = 0; i + V::W <= n; i += V::W) {
    const auto y = V::mul(V::sub(V::load(x + i), m), inv);
    V::store(x + i, V::fma(y, V::load(gamma + i), V::load(beta + i)));
  }
  if (i < n) {
    const std::size_t r = n - i;
    const auto y = V::mul(V::sub(V::loadp(x + i, r, 0.0f), m), inv);
    V::storep(x + i, r, V::fma(y, V::loadp(gamma + i, r, 0.0f), V::loadp(beta + i, r, 0.0f)));
  }
}

template <class V>
void layer_norm(float* x, std::size_t rows, std::size_t ld, std::size_t n, const float* gamma,
                const float* beta, float eps) {
  for (std::size_t r = 0; r < rows; ++r) layer_norm_row<V>(x + r * ld, n, gamma, beta, eps);
}

// WidenRows: rows per bf16-widening tile (its two weight vectors per pair
// need registers the fp32 tile gives to accumulators).
template <class V, std::size_t MaxRows, std::size_t WidenRows>
constexpr KernelTable make_table(const char* name) {
  return KernelTable{
      name,           MaxRows,          &gemm_panel<V, MaxRows>,         &attention<V>,
      &layer_norm<V>, &gelu_inplace<V>, &gemm_panel_widen<V, WidenRows>, "widen"};
}

}  // namespace akidb::embed::native::KERNEL_NS
