// akidb-gemm-bench: GFLOP/s of the native engine's GEMM (packed weights,
// bias epilogue) on the encoder's shapes, per kernel set and thread count,
// and of oneDNN's matmul on the same shapes when built with it
// (AKIDB_WITH_DNNL; primitive created once per shape, weights in its
// preferred layout, not timed).
//
//   akidb-gemm-bench [--threads 1] [--seconds 0.3] [--m 1 13 64] [--working-set MB]
//
// --working-set MB: every call multiplies by the next of enough copies of
// the weights to fill MB megabytes, cycled, as a forward pass cycles through
// its layers' weights (all-MiniLM-L6-v2: 42.5 MB of GEMM weights). Beyond
// the L3 (32 MiB here) the weights come from memory. 0 (default): one copy,
// which stays in the caches between calls.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engines/native/cpu_dispatch.hpp"
#include "engines/native/packed_matrix.hpp"
#include "engines/native/packed_matrix_int8.hpp"
#include "engines/native/parallel_int8.hpp"
#include "engines/native/parallel_ops.hpp"

#ifdef AKIDB_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

using namespace akidb::embed::native;
using Clock = std::chrono::steady_clock;

struct Shape {
  const char* name;
  std::size_t n, k;
};

std::vector<float> random_vector(std::size_t n) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Calls fn until `seconds` pass; returns calls per second.
template <class Fn>
double rate(Fn&& fn, double seconds) {
  fn();
  std::size_t calls = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  do {
    fn();
    ++calls;
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  } while (elapsed < seconds);
  return double(calls) / elapsed;
}

double native_gflops(const KernelTable& kt, ThreadPool& pool, const Shape& s, std::size_t m,
                     double seconds, double working_set_mb) {
  const auto a = random_vector(m * s.k), w = random_vector(s.n * s.k), b = random_vector(s.n);
  const auto copies = std::max<std::size_t>(
      1, static_cast<std::size_t>(working_set_mb * 1e6 / double(4 * s.n * s.k)));
  std::vector<PackedMatrix> packed;
  for (std::size_t i = 0; i < copies; ++i) packed.emplace_back(w, b, s.n, s.k);
  std::vector<float> c(m * s.n);
  const Compute cx{pool, kt};
  std::size_t next = 0;
  const double per_s = rate(
      [&] {
        gemm(cx, packed[next], a.data(), s.k, m, c.data(), s.n, Epilogue::Bias);
        next = (next + 1) % copies;
      },
      seconds);
  return per_s * 2.0 * double(m * s.n * s.k) / 1e9;
}

// The int8 variant's GEMM, activation quantization included (as the engine
// runs it); GOP/s counted like GFLOP/s (2 per multiply-add).
double int8_gops(const KernelTable& kt, const Int8KernelTable& it, ThreadPool& pool, const Shape& s,
                 std::size_t m, double seconds) {
  const auto a = random_vector(m * s.k), w = random_vector(s.n * s.k), b = random_vector(s.n);
  const PackedMatrixInt8 packed(w, b, s.n, s.k);
  std::vector<float> c(m * s.n);
  Int8Workspace ws;
  const Compute cx{pool, kt, &it};
  const double per_s =
      rate([&] { gemm_int8(cx, it, packed, ws, a.data(), s.k, m, c.data(), s.n, Epilogue::Bias); },
           seconds);
  return per_s * 2.0 * double(m * s.n * s.k) / 1e9;
}

#ifdef AKIDB_WITH_DNNL
double dnnl_gflops(const Shape& s, std::size_t m, double seconds) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const auto dims = [](std::size_t r, std::size_t c) {
    return memory::dims{static_cast<memory::dim>(r), static_cast<memory::dim>(c)};
  };
  const memory::desc a_md(dims(m, s.k), memory::data_type::f32, memory::format_tag::ab);
  const memory::desc w_any(dims(s.k, s.n), memory::data_type::f32, memory::format_tag::any);
  const memory::desc bias_md(dims(1, s.n), memory::data_type::f32, memory::format_tag::ab);
  const memory::desc c_md(dims(m, s.n), memory::data_type::f32, memory::format_tag::ab);
  const matmul::primitive_desc pd(matmul::desc(a_md, w_any, bias_md, c_md), eng);  // oneDNN 2.x
  const auto a = random_vector(m * s.k), w = random_vector(s.n * s.k), b = random_vector(s.n);
  std::vector<float> c(m * s.n);
  memory a_mem(a_md, eng, const_cast<float*>(a.data()));
  memory w_plain({dims(s.k, s.n), memory::data_type::f32, memory::format_tag::ba}, eng,
                 const_cast<float*>(w.data()));
  memory w_mem(pd.weights_desc(), eng);
  reorder(w_plain, w_mem).execute(strm, w_plain, w_mem);
  memory b_mem(bias_md, eng, const_cast<float*>(b.data()));
  memory c_mem(c_md, eng, c.data());
  const matmul prim(pd);
  const double per_s = rate(
      [&] {
        prim.execute(strm, {{DNNL_ARG_SRC, a_mem},
                            {DNNL_ARG_WEIGHTS, w_mem},
                            {DNNL_ARG_BIAS, b_mem},
                            {DNNL_ARG_DST, c_mem}});
        strm.wait();
      },
      seconds);
  return per_s * 2.0 * double(m * s.n * s.k) / 1e9;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"native GEMM GFLOP/s on the encoder's shapes"};
  std::size_t threads = 1;
  double seconds = 0.3;
  double working_set_mb = 0;
  std::vector<std::size_t> ms{1, 13, 64, 256, 2048};
  app.add_option("--threads", threads, "threads (oneDNN: set OMP_NUM_THREADS to match)");
  app.add_option("--seconds", seconds, "time per measurement");
  app.add_option("--m", ms, "rows of A to measure");
  app.add_option("--working-set", working_set_mb,
                 "native: MB of weight copies cycled through (see above)");
  CLI11_PARSE(app, argc, argv);
  ThreadPool pool(threads);
  const Shape shapes[] = {{"qkv 384->1152", 1152, 384},
                          {"attn-out 384->384", 384, 384},
                          {"ffn-up 384->1536", 1536, 384},
                          {"ffn-down 1536->384", 384, 1536}};
  std::vector<const KernelTable*> tables{&select_kernels(Isa::Avx2)};
  if (std::string(select_kernels(Isa::Auto).name) == "avx512")
    tables.push_back(&select_kernels(Isa::Avx512));
  std::vector<const Int8KernelTable*> int8_tables{&select_int8_kernels(Isa::Avx2)};
  if (&select_int8_kernels(Isa::Auto) != int8_tables.front())
    int8_tables.push_back(&select_int8_kernels(Isa::Auto));
  std::printf("threads %zu; GFLOP/s (int8: GOP/s, quantization of A included)\n%-20s %6s", threads,
              "shape", "M");
  for (const auto* t : tables) std::printf(" %9s", t->name);
  for (const auto* t : int8_tables) std::printf(" %6s-int8", t->name);
#ifdef AKIDB_WITH_DNNL
  std::printf(" %9s", "onednn");
#endif
  std::printf("\n");
  for (const auto& s : shapes) {
    for (const std::size_t m : ms) {
      std::printf("%-20s %6zu", s.name, m);
      for (const auto* t : tables)
        std::printf(" %9.1f", native_gflops(*t, pool, s, m, seconds, working_set_mb));
      for (const auto* t : int8_tables)
        std::printf(" %11.1f", int8_gops(*tables.back(), *t, pool, s, m, seconds));
#ifdef AKIDB_WITH_DNNL
      std::printf(" %9.1f", dnnl_gflops(s, m, seconds));
#endif
      std::printf("\n");
    }
  }
  return 0;
}
