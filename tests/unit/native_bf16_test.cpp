// The native engine's bf16 variant: the bf16 GEMM kernels (vdpbf16ps where
// the CPU has AVX512_BF16, and the widening fallback of AVX-512F and AVX2)
// against naive references on awkward shapes, and the whole encoder against
// sentence-transformers' golden vectors (mean cosine >= 0.9999) and its own
// batch invariance.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#include "akidb/embed/error.hpp"
#include "engines/native/cpu_dispatch.hpp"
#include "engines/native/kernels.hpp"
#include "engines/native/packed_matrix_bf16.hpp"
#include "native_test_support.hpp"

namespace akidb::embed {
namespace {

using namespace native;
using namespace native_test;
using test::expect_error;

struct Path {
  std::string isa;  // NativeEngineOptions::isa
  const KernelTable* table;
};

std::vector<Path> paths() {
  std::vector<Path> out{{"avx2", &select_kernels(Isa::Avx2)}};
  for (const auto& [name, isa] :
       {std::pair{"avx512", Isa::Avx512}, std::pair{"avx512bf16", Isa::Avx512Bf16}}) {
    try {
      out.push_back({name, &select_kernels(isa)});
    } catch (const Error&) {
    }
  }
  return out;
}

std::vector<float> random_vector(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

TEST(NativeBf16, RoundsToNearestEven) {
  EXPECT_EQ(to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);
  EXPECT_EQ(to_bf16(-2.5f), 0xc020);
  EXPECT_TRUE(std::isnan(from_bf16(to_bf16(std::nanf("")))));
  EXPECT_EQ(to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds up to +inf
  EXPECT_EQ(from_bf16(0x4049), 3.140625f);
}

void check_gemm(const KernelTable& kt, bool dot, std::size_t m, std::size_t k, std::size_t n,
                Epilogue epilogue) {
  const auto a = random_vector(m * k, 1), w = random_vector(n * k, 2);
  const auto bias = random_vector(n, 3), res = random_vector(m * n, 4);
  const PackedMatrixBf16 packed(w, bias, n, k);
  std::vector<float> out(m * n, -7.0f);
  GemmArgs g;
  g.a = a.data();
  g.lda = k;
  g.packed_pairs = packed.data();
  g.bias = packed.bias();
  g.residual = res.data();
  g.ldr = n;
  g.c = out.data();
  g.ldc = n;
  g.n = n;
  g.k = k;
  g.epilogue = epilogue;
  for (std::size_t p = 0; p < packed.panels(); ++p) kt.gemm_panel_bf16(g, 0, m, p);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double want = bias[j];
      for (std::size_t kk = 0; kk < k; ++kk) {
        const float x = a[i * k + kk];
        want += double(dot ? from_bf16(to_bf16(x)) : x) * from_bf16(to_bf16(w[j * k + kk]));
      }
      if (epilogue == Epilogue::BiasGelu) want = gelu_ref(want);
      if (epilogue == Epilogue::BiasResidual) want += res[i * n + j];
      ASSERT_NEAR(out[i * n + j], want, 1e-5 * (1.0 + std::sqrt(double(k))))
          << kt.bf16_method << " m=" << m << " k=" << k << " n=" << n << " at " << i << "," << j;
    }
  }
}

TEST(NativeBf16, GemmMatchesNaiveOnAwkwardShapes) {
  for (const auto& path : paths()) {
    const bool dot = std::string(path.table->bf16_method) == "vdpbf16ps";
    EXPECT_EQ(dot, path.isa == "avx512bf16");
    for (std::size_t m = 1; m <= 17; ++m) {
      for (const auto& [k, n] : std::vector<std::pair<std::size_t, std::size_t>>{
               {1, 1}, {7, 33}, {37, 70}, {64, 32}, {129, 17}}) {
        for (const auto e : {Epilogue::Bias, Epilogue::BiasGelu, Epilogue::BiasResidual})
          check_gemm(*path.table, dot, m, k, n, e);
      }
    }
    check_gemm(*path.table, dot, 13, 384, 1152, Epilogue::Bias);
  }
}

NativeEngineOptions bf16_options(const std::string& isa) {
  NativeEngineOptions o;
  o.model_dir = native_model_dir();
  o.threads = 2;
  o.isa = isa;
  o.variant = "bf16";
  o.cache = "off";
  return o;
}

// Mean and worst cosine to the golden vectors over the first `limit` texts.
std::pair<double, double> golden_cosines(NativeEngine& engine, std::size_t limit) {
  const auto& g = golden();
  const std::size_t n = std::min(limit, g.encodings.size());
  double sum = 0, worst = 1;
  for (std::size_t begin = 0; begin < n; begin += 32) {
    Packed p;
    const std::size_t end = std::min(n, begin + 32);
    for (std::size_t i = begin; i < end; ++i) p.add(g.encodings[i]);
    const auto hidden = run(engine, p);
    for (std::size_t i = begin; i < end; ++i) {
      const auto got = pooled(hidden, p, i - begin, g.dimension);
      const double c = test::cosine(
          got, std::span<const float>(g.vectors.data() + i * g.dimension, g.dimension));
      sum += c;
      worst = std::min(worst, c);
    }
  }
  return {sum / double(n), worst};
}

TEST(NativeBf16, MatchesSentenceTransformersOnEveryPath) {
  REQUIRE_NATIVE_MODEL();
  for (const auto& path : paths()) {
    NativeEngine engine(bf16_options(path.isa));
    EXPECT_NE(engine.capabilities().execution_provider.find(path.table->bf16_method),
              std::string::npos);
#ifdef AKIDB_SANITIZED
    const auto [mean, worst] = golden_cosines(engine, 32);
#else
    const auto [mean, worst] = golden_cosines(engine, path.isa == "avx2" ? 128 : 100000);
#endif
    EXPECT_GE(mean, 0.9999) << path.isa;
    EXPECT_GE(worst, 0.999) << path.isa;
    std::cout << "[bf16 " << path.isa << " " << path.table->bf16_method << "] mean cos " << mean
              << ", worst " << worst << "\n";
  }
}

TEST(NativeBf16, BatchInvariant) {
  REQUIRE_NATIVE_MODEL();
  NativeEngine engine(bf16_options("auto"));
  const auto& g = golden();
  Packed all;
  for (std::size_t i = 0; i < 23; ++i) all.add(g.encodings[i]);
  const auto together = run(engine, all);
  for (std::size_t i = 0; i < 23; ++i) {
    Packed one;
    one.add(g.encodings[i]);
    const auto alone = run(engine, one);
    for (std::size_t f = 0; f < alone.size(); ++f)
      ASSERT_EQ(alone[f], together[all.offsets[i] * g.dimension + f]) << "sequence " << i;
  }
}

TEST(NativeBf16, UnknownVariantIsRejected) {
  REQUIRE_NATIVE_MODEL();
  auto o = bf16_options("auto");
  o.variant = "fp8";
  expect_error([&] { NativeEngine e(o); }, ErrorCode::InvalidInput, "unknown variant 'fp8'");
}

}  // namespace
}  // namespace akidb::embed
