// The native engine's kernels (AVX2 and, where the CPU has it, AVX-512)
// against naive double-precision references, on awkward shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "akidb/embed/error.hpp"
#include "engines/native/cpu_dispatch.hpp"
#include "engines/native/kernels.hpp"
#include "engines/native/packed_matrix.hpp"
#include "engines/native/parallel_ops.hpp"
#include "engines/native/thread_pool.hpp"

namespace akidb::embed::native {
namespace {

std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> out{&select_kernels(Isa::Avx2)};
  try {
    out.push_back(&select_kernels(Isa::Avx512));
  } catch (const Error&) {
  }
  return out;
}

std::vector<float> random_vector(std::size_t n, unsigned seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

double gelu_ref(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

struct GemmCase {
  std::size_t m, k, n;
  Epilogue epilogue;
};

void check_gemm(const KernelTable& kt, const GemmCase& c) {
  const auto a = random_vector(c.m * c.k, 1);
  const auto w = random_vector(c.n * c.k, 2);
  const auto bias = random_vector(c.n, 3);
  const auto res = random_vector(c.m * c.n, 4);
  const PackedMatrix packed(w, bias, c.n, c.k);
  std::vector<float> out(c.m * c.n, -7.0f);
  GemmArgs g;
  g.a = a.data();
  g.lda = c.k;
  g.packed_b = packed.data();
  g.bias = packed.bias();
  g.residual = res.data();
  g.ldr = c.n;
  g.c = out.data();
  g.ldc = c.n;
  g.n = c.n;
  g.k = c.k;
  g.epilogue = c.epilogue;
  for (std::size_t p = 0; p < packed.panels(); ++p) kt.gemm_panel(g, 0, c.m, p);
  for (std::size_t i = 0; i < c.m; ++i) {
    for (std::size_t j = 0; j < c.n; ++j) {
      double want = bias[j];
      for (std::size_t kk = 0; kk < c.k; ++kk) want += double(a[i * c.k + kk]) * w[j * c.k + kk];
      if (c.epilogue == Epilogue::BiasGelu) want = gelu_ref(want);
      if (c.epilogue == Epilogue::BiasResidual) want += res[i * c.n + j];
      ASSERT_NEAR(out[i * c.n + j], want, 1e-5 * (1.0 + std::sqrt(double(c.k))))
          << kt.name << " m=" << c.m << " k=" << c.k << " n=" << c.n << " at " << i << "," << j;
    }
  }
}

TEST(NativeKernels, GemmMatchesNaiveOnAwkwardShapes) {
  for (const auto* kt : tables()) {
    for (std::size_t m = 1; m <= 17; ++m) {
      for (const auto& [k, n] : std::vector<std::pair<std::size_t, std::size_t>>{
               {1, 1}, {7, 33}, {37, 70}, {64, 32}, {129, 17}}) {
        for (const auto e : {Epilogue::Bias, Epilogue::BiasGelu, Epilogue::BiasResidual})
          check_gemm(*kt, {m, k, n, e});
      }
    }
    check_gemm(*kt, {13, 384, 1152, Epilogue::Bias});
  }
}

// The scheduling settings decide only who computes which rows and panels,
// never a row's arithmetic: every setting, and every row computed alone
// (M = 1), gives the same bits.
TEST(NativeKernels, ScheduleSettingsAndBatchSizeNeverChangeABit) {
  ThreadPool pool(3);
  const std::vector<Schedule> schedules = {Schedule{}, {4, 0}, {1, 1000}};
  for (const auto* kt : tables()) {
    for (const auto& [m, k, n] : std::vector<std::tuple<std::size_t, std::size_t, std::size_t>>{
             {13, 384, 1152}, {200, 1536, 384}, {470, 384, 384}}) {
      const auto a = random_vector(m * k, 5), w = random_vector(n * k, 6),
                 bias = random_vector(n, 7), gamma = random_vector(n, 8),
                 beta = random_vector(n, 9);
      const PackedMatrix packed(w, bias, n, k);
      std::vector<std::vector<float>> outs;
      for (const auto& schedule : schedules) {
        const Compute cx{pool, *kt, nullptr, nullptr, schedule};
        std::vector<float> c(m * n);
        gemm(cx, packed, a.data(), k, m, c.data(), n, Epilogue::BiasGelu);
        layer_norm(cx, c.data(), m, n, gamma.data(), beta.data(), 1e-12f);
        outs.push_back(std::move(c));
      }
      for (std::size_t i = 1; i < outs.size(); ++i)
        EXPECT_EQ(outs[i], outs[0]) << kt->name << " m=" << m << " schedule " << i;
      const Compute cx{pool, *kt};
      for (const std::size_t row : {std::size_t{0}, m / 2, m - 1}) {
        std::vector<float> alone(n);
        gemm(cx, packed, a.data() + row * k, k, 1, alone.data(), n, Epilogue::BiasGelu);
        layer_norm(cx, alone.data(), 1, n, gamma.data(), beta.data(), 1e-12f);
        EXPECT_TRUE(std::equal(alone.begin(), alone.end(), outs[0].begin() + row * n))
            << kt->name << " m=" << m << " row " << row;
      }
    }
  }
}

TEST(NativeKernels, GeluMatchesErfReference) {
  for (const auto* kt : tables()) {
    std::vector<float> x;
    for (float v = -12.0f; v <= 12.0f; v += 0.0137f) x.push_back(v);
    auto y = x;
    kt->gelu(y.data(), y.size());
    for (std::size_t i = 0; i < x.size(); ++i)
      ASSERT_NEAR(y[i], gelu_ref(x[i]), 2e-6 * (1.0 + std::fabs(x[i])))
          << kt->name << " x=" << x[i];
  }
}

TEST(NativeKernels, LayerNormMatchesNaive) {
  for (const auto* kt : tables()) {
    for (const std::size_t n : {1u, 7u, 37u, 384u}) {
      const std::size_t rows = 3;
      auto x = random_vector(rows * n, 5, 3.0f);
      const auto gamma = random_vector(n, 6), beta = random_vector(n, 7);
      const auto orig = x;
      kt->layer_norm(x.data(), rows, n, n, gamma.data(), beta.data(), 1e-12f);
      for (std::size_t r = 0; r < rows; ++r) {
        double mean = 0, var = 0;
        for (std::size_t i = 0; i < n; ++i) mean += orig[r * n + i];
        mean /= double(n);
        for (std::size_t i = 0; i < n; ++i) var += std::pow(orig[r * n + i] - mean, 2);
        var /= double(n);
        for (std::size_t i = 0; i < n; ++i) {
          const double want =
              (orig[r * n + i] - mean) / std::sqrt(var + 1e-12) * gamma[i] + beta[i];
          ASSERT_NEAR(x[r * n + i], want, 2e-5) << kt->name << " n=" << n;
        }
      }
    }
  }
}

// with_bias: MPNet's relative position bias, a [heads][2 * length - 1] table
// by distance j - i.
void check_attention(const KernelTable& kt, std::size_t length, std::size_t head_dim,
                     bool with_bias = false) {
  const std::size_t heads = 2, hidden = heads * head_dim, ld = 3 * hidden;
  const auto qkv = random_vector(length * ld, 8, 2.0f);
  const std::size_t width = 2 * length - 1;
  const auto bias = random_vector(heads * width, 9, 3.0f);
  std::vector<float> ctx(length * hidden, -1.0f);
  std::vector<float> scratch(attention_scratch_floats(length, head_dim));
  AttentionArgs args{
      qkv.data(), ld, ctx.data(), hidden, hidden, head_dim, 1.0f / std::sqrt(float(head_dim))};
  if (with_bias) {
    args.position_bias = bias.data();
    args.bias_width = width;
    args.bias_centre = length - 1;
  }
  for (std::size_t h = 0; h < heads; ++h) kt.attention(args, 0, length, h, scratch.data());
  for (std::size_t h = 0; h < heads; ++h) {
    for (std::size_t i = 0; i < length; ++i) {
      std::vector<double> p(length);
      double mx = -1e300, sum = 0;
      for (std::size_t j = 0; j < length; ++j) {
        double s = 0;
        for (std::size_t d = 0; d < head_dim; ++d)
          s += double(qkv[i * ld + h * head_dim + d]) * qkv[j * ld + hidden + h * head_dim + d];
        p[j] = s * args.scale;
        if (with_bias) p[j] += bias[h * width + (length - 1) + j - i];
        mx = std::max(mx, p[j]);
      }
      for (auto& v : p) sum += (v = std::exp(v - mx));
      for (std::size_t d = 0; d < head_dim; ++d) {
        double want = 0;
        for (std::size_t j = 0; j < length; ++j)
          want += p[j] / sum * qkv[j * ld + 2 * hidden + h * head_dim + d];
        ASSERT_NEAR(ctx[i * hidden + h * head_dim + d], want, 2e-5)
            << kt.name << " length=" << length << " head_dim=" << head_dim << " bias=" << with_bias;
      }
    }
  }
}

TEST(NativeKernels, AttentionMatchesNaive) {
  for (const auto* kt : tables()) {
    for (const std::size_t length : {1u, 2u, 5u, 16u, 17u, 33u, 70u})
      for (const std::size_t head_dim : {32u, 20u, 8u, 3u}) check_attention(*kt, length, head_dim);
  }
}

TEST(NativeKernels, AttentionWithRelativePositionBiasMatchesNaive) {
  for (const auto* kt : tables()) {
    for (const std::size_t length : {1u, 3u, 16u, 17u, 40u})
      for (const std::size_t head_dim : {32u, 12u}) check_attention(*kt, length, head_dim, true);
  }
}

TEST(NativeKernels, ThreadPoolRunsEveryShareOnce) {
  ThreadPool pool(3);
  ASSERT_EQ(pool.size(), 3u);
  for (const std::size_t shares : {1u, 2u, 7u, 64u}) {
    std::vector<int> hits(shares, 0);
    std::vector<int> bad_thread(1, 0);
    for (int round = 0; round < 300; ++round) {
      auto fn = [&](std::size_t s, std::size_t thread) {
        ++hits[s];  // one share, one thread: no race
        if (thread >= pool.size()) bad_thread[0] = 1;
      };
      pool.run(shares, fn);
    }
    for (const int h : hits) EXPECT_EQ(h, 300) << shares << " shares";
    EXPECT_EQ(bad_thread[0], 0);
  }
}

}  // namespace
}  // namespace akidb::embed::native
