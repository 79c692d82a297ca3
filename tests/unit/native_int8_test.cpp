// The native engine's int8 kernels (AVX2 and, where the CPU has it,
// AVX512-VNNI) against naive references on awkward shapes: the weight and
// activation quantization exactly, the GEMM's integer sums exactly (so the
// two ISAs agree bit for bit), and the result against the fp32 product
// within the quantization error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "akidb/embed/error.hpp"
#include "engines/native/cpu_dispatch.hpp"
#include "engines/native/kernels_int8.hpp"
#include "engines/native/packed_matrix_int8.hpp"

namespace akidb::embed::native {
namespace {

std::vector<const Int8KernelTable*> tables() {
  std::vector<const Int8KernelTable*> out{&select_int8_kernels(Isa::Avx2)};
  const auto& best = select_int8_kernels(Isa::Auto);
  if (&best != out.front()) out.push_back(&best);
  return out;
}

std::vector<float> random_vector(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The reference quantization of one row: scale max|x| / 127, q = round half
// to even of x * (127 / max|x|).
std::vector<int> quantize_ref(const float* x, std::size_t k, float& scale) {
  float max_abs = 0;
  for (std::size_t i = 0; i < k; ++i) max_abs = std::max(max_abs, std::fabs(x[i]));
  scale = max_abs / 127.0f;
  const float inv = max_abs > 0 ? 127.0f / max_abs : 0.0f;
  std::vector<int> q(k);
  for (std::size_t i = 0; i < k; ++i)
    q[i] = static_cast<int>(std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f));
  return q;
}

// The int8 value a table stored (VNNI: q + 128 as uint8; AVX2: int8).
int stored_value(const Int8KernelTable& kt, std::uint8_t byte) {
  return std::string_view(kt.name) == "avx2" ? static_cast<std::int8_t>(byte) : int(byte) - 128;
}

TEST(NativeInt8, QuantizeRowsMatchesReference) {
  for (const auto* kt : tables()) {
    for (const std::size_t k : {1u, 3u, 7u, 16u, 17u, 37u, 384u, 1536u}) {
      const std::size_t rows = 5, ldx = k + 3, ldq = int8_padded_k(k);
      auto x = random_vector(rows * ldx, 11, 4.0f);
      std::fill_n(x.begin() + 2 * ldx, k, 0.0f);  // an all-zero row
      x[3 * ldx] = 100.0f;                        // an outlier row
      std::vector<std::uint8_t> q(rows * ldq, 77);
      std::vector<float> scales(rows, -1.0f);
      kt->quantize_rows(x.data(), rows, ldx, k, q.data(), ldq, scales.data());
      for (std::size_t r = 0; r < rows; ++r) {
        float scale = 0;
        const auto want = quantize_ref(x.data() + r * ldx, k, scale);
        ASSERT_EQ(scales[r], scale) << kt->name << " k=" << k << " row " << r;
        for (std::size_t i = 0; i < ldq; ++i)
          ASSERT_EQ(stored_value(*kt, q[r * ldq + i]), i < k ? want[i] : 0)
              << kt->name << " k=" << k << " row " << r << " at " << i;
      }
    }
  }
}

TEST(NativeInt8, WeightsAreQuantizedPerOutputChannel) {
  const std::size_t n = 37, k = 13;
  auto w = random_vector(n * k, 12);
  for (std::size_t i = 0; i < k; ++i) w[5 * k + i] *= 50.0f;  // one loud channel
  const auto bias = random_vector(n, 13);
  const PackedMatrixInt8 packed(w, bias, n, k);
  ASSERT_EQ(packed.panels(), 2u);
  const std::size_t kp = int8_padded_k(k);
  for (std::size_t col = 0; col < 2 * kPanelWidth; ++col) {
    const std::size_t panel = col / kPanelWidth, j = col % kPanelWidth;
    float scale = 0;
    const auto want = col < n ? quantize_ref(w.data() + col * k, k, scale) : std::vector<int>(k);
    int sum = 0;
    for (std::size_t kk = 0; kk < kp; ++kk) {
      const int got = packed.data()[panel * kp * kPanelWidth + kk / 4 * 128 + j * 4 + kk % 4];
      ASSERT_EQ(got, kk < k ? want[kk] : 0) << "column " << col << " k " << kk;
      sum += got;
    }
    EXPECT_EQ(packed.col_scales()[col], scale) << "column " << col;
    EXPECT_EQ(packed.col_sums()[col], sum) << "column " << col;
    EXPECT_EQ(packed.bias()[col], col < n ? bias[col] : 0.0f);
  }
}

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

struct Case {
  std::size_t m, k, n;
  Epilogue epilogue;
};

// C from the table's kernels, every panel, rows [0, m).
std::vector<float> run_gemm(const Int8KernelTable& kt, const Case& c, const std::vector<float>& a,
                            const PackedMatrixInt8& w, const std::vector<float>& res) {
  const std::size_t kp = int8_padded_k(c.k);
  std::vector<std::uint8_t> q(c.m * kp);
  std::vector<float> scales(c.m);
  kt.quantize_rows(a.data(), c.m, c.k, c.k, q.data(), kp, scales.data());
  std::vector<float> out(c.m * c.n, -7.0f);
  GemmInt8Args g;
  g.a = q.data();
  g.lda = kp;
  g.row_scales = scales.data();
  g.packed_b = w.data();
  g.col_scales = w.col_scales();
  g.col_sums = w.col_sums();
  g.out.bias = w.bias();
  g.out.residual = res.data();
  g.out.ldr = c.n;
  g.out.c = out.data();
  g.out.ldc = c.n;
  g.out.n = c.n;
  g.out.k = c.k;
  g.out.epilogue = c.epilogue;
  for (std::size_t p = 0; p < w.panels(); ++p) kt.gemm_panel(g, 0, c.m, p);
  return out;
}

// Against the exact integer product of the reference quantizations
// (dequantized in double), and against the fp32 product within the
// quantization error.
void check_gemm(const Int8KernelTable& kt, const Case& c) {
  const auto a = random_vector(c.m * c.k, 1, 2.0f);
  const auto w = random_vector(c.n * c.k, 2, 0.5f);
  const auto bias = random_vector(c.n, 3);
  const auto res = random_vector(c.m * c.n, 4);
  const PackedMatrixInt8 packed(w, bias, c.n, c.k);
  const auto out = run_gemm(kt, c, a, packed, res);
  std::vector<std::vector<int>> qws(c.n);
  std::vector<float> col_scales(c.n);
  for (std::size_t j = 0; j < c.n; ++j)
    qws[j] = quantize_ref(w.data() + j * c.k, c.k, col_scales[j]);
  for (std::size_t i = 0; i < c.m; ++i) {
    float row_scale = 0;
    const auto qa = quantize_ref(a.data() + i * c.k, c.k, row_scale);
    for (std::size_t j = 0; j < c.n; ++j) {
      const float col_scale = col_scales[j];
      const auto& qw = qws[j];
      long long dot = 0;
      double exact = bias[j];
      for (std::size_t kk = 0; kk < c.k; ++kk) {
        dot += static_cast<long long>(qa[kk]) * qw[kk];
        exact += double(a[i * c.k + kk]) * w[j * c.k + kk];
      }
      double want = double(dot) * row_scale * col_scale + bias[j];
      if (c.epilogue == Epilogue::BiasGelu) want = gelu_ref(want), exact = gelu_ref(exact);
      if (c.epilogue == Epilogue::BiasResidual) want += res[i * c.n + j], exact += res[i * c.n + j];
      const float got = out[i * c.n + j];
      ASSERT_NEAR(got, want, 1e-5 * (1.0 + std::fabs(want)))
          << kt.name << " m=" << c.m << " k=" << c.k << " n=" << c.n << " at " << i << "," << j;
      // Each product is off by at most |a| * sw / 2 + |w| * sa / 2 + sa * sw / 4.
      const double bound =
          1.2 * double(c.k) *
              (2.0 * col_scale / 2 + 0.5 * row_scale / 2 + row_scale * col_scale / 4) +
          1e-5;
      ASSERT_NEAR(got, exact, bound) << kt.name << " m=" << c.m << " k=" << c.k << " n=" << c.n;
    }
  }
}

const std::vector<std::pair<std::size_t, std::size_t>> kShapes = {
    {1, 1}, {3, 5}, {7, 33}, {37, 70}, {64, 32}, {129, 17}, {130, 95}};

TEST(NativeInt8, GemmMatchesNaiveOnAwkwardShapes) {
  for (const auto* kt : tables()) {
    for (std::size_t m = 1; m <= 17; ++m)
      for (const auto& [k, n] : kShapes)
        for (const auto e : {Epilogue::Bias, Epilogue::BiasGelu, Epilogue::BiasResidual})
          check_gemm(*kt, {m, k, n, e});
    check_gemm(*kt, {13, 384, 1152, Epilogue::Bias});
    check_gemm(*kt, {30, 1536, 384, Epilogue::BiasResidual});
  }
}

// Integer sums are exact, and both ISAs dequantize with the same float
// operations: bit-identical outputs (GELU included: same erf and expf).
TEST(NativeInt8, Avx2AndVnniAgreeExactly) {
  const auto all = tables();
  if (all.size() < 2) GTEST_SKIP() << "this CPU has no AVX512-VNNI";
  for (const std::size_t m : {1u, 2u, 13u, 17u, 40u}) {
    for (const auto& [k, n] : kShapes) {
      for (const auto e : {Epilogue::Bias, Epilogue::BiasGelu, Epilogue::BiasResidual}) {
        const Case c{m, k, n, e};
        const auto a = random_vector(m * k, 21, 3.0f);
        const auto w = random_vector(n * k, 22);
        const auto res = random_vector(m * n, 23);
        const PackedMatrixInt8 packed(w, random_vector(n, 24), n, k);
        EXPECT_EQ(run_gemm(*all[0], c, a, packed, res), run_gemm(*all[1], c, a, packed, res))
            << "m=" << m << " k=" << k << " n=" << n << " epilogue " << int(e);
      }
    }
  }
}

// A row's result does not depend on the rows it is computed with.
TEST(NativeInt8, RowsAreIndependentOfTheirTile) {
  for (const auto* kt : tables()) {
    const Case all{17, 70, 40, Epilogue::BiasGelu};
    const auto a = random_vector(all.m * all.k, 31);
    const auto res = random_vector(all.m * all.n, 32);
    const PackedMatrixInt8 w(random_vector(all.n * all.k, 33), random_vector(all.n, 34), all.n,
                             all.k);
    const auto together = run_gemm(*kt, all, a, w, res);
    for (std::size_t i = 0; i < all.m; ++i) {
      const std::vector<float> row(a.begin() + long(i * all.k), a.begin() + long((i + 1) * all.k));
      const std::vector<float> r(res.begin() + long(i * all.n),
                                 res.begin() + long((i + 1) * all.n));
      const auto alone = run_gemm(*kt, {1, all.k, all.n, all.epilogue}, row, w, r);
      EXPECT_TRUE(std::equal(alone.begin(), alone.end(), together.begin() + long(i * all.n)))
          << kt->name << " row " << i;
    }
  }
}

}  // namespace
}  // namespace akidb::embed::native
