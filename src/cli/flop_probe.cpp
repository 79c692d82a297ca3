#include "cli/flop_probe.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace akidb::embed::cli {
namespace {

// 16 floats: one AVX-512 register (two AVX2 registers). The loop is compiled
// once per ISA and picked at run time (target_clones), so a portable build
// still measures the machine's real FMA peak.
typedef float Vec __attribute__((vector_size(64)));
constexpr int kChains = 12;  // enough independent chains to hide FMA latency
constexpr long kInner = 1 << 16;

// Returns the number of floating-point operations done.
__attribute__((target_clones("avx512f", "arch=haswell", "default"))) double fma_loop(
    std::atomic<bool>& stop, float seed) {
  Vec acc[kChains];
  Vec mul, add;
  for (int i = 0; i < 16; ++i) {
    mul[i] = 0.999999f;
    add[i] = seed * 1e-6f;
  }
  for (int c = 0; c < kChains; ++c) acc[c] = add * static_cast<float>(c);
  double flops = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    for (long i = 0; i < kInner; ++i) {
      for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * mul + add;
    }
    flops += 2.0 * 16 * kChains * kInner;
  }
  float sink = 0;
  for (int c = 0; c < kChains; ++c) sink += acc[c][0];
  return sink == 12345.678f ? flops + 1 : flops;  // keeps the loop alive
}

}  // namespace

double measure_peak_gflops(int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::vector<double> flops(static_cast<std::size_t>(threads), 0.0);
  const auto start = std::chrono::steady_clock::now();
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        flops[static_cast<std::size_t>(t)] = fma_loop(stop, 1.0f + static_cast<float>(t));
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double total = 0;
  for (double f : flops) total += f;
  return total / elapsed / 1e9;
}

}  // namespace akidb::embed::cli
