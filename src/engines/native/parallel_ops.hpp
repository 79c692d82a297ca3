#pragma once
// The encoder's steps split over the thread pool: each step is divided once
// into one contiguous share per thread.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels.hpp"
#include "packed_matrix.hpp"
#include "step_profile.hpp"
#include "thread_pool.hpp"

namespace akidb::embed::native {

struct Compute {
  ThreadPool& pool;
  const KernelTable& kernels;
  StepProfile* profile = nullptr;  // set: the encoder times every step into it
};

// FLOPs (2 x multiply-adds) of an m-row GEMM against w.
inline double gemm_flops(std::size_t m, const PackedMatrix& w) {
  return 2.0 * double(m) * double(w.n()) * double(w.k());
}

// C[m, w.n()] = A[m, w.k()] * W^T + bias, with the epilogue (residual: [m, n]
// with leading dimension ldr).
void gemm(const Compute& cx, const PackedMatrix& w, const float* a, std::size_t lda, std::size_t m,
          float* c, std::size_t ldc, Epilogue epilogue, const float* residual = nullptr,
          std::size_t ldr = 0);

// Every head of every sequence (offsets as in SequenceBatch). `scratch` holds
// attention_scratch_floats(longest, head_dim) floats per thread.
void attention(const Compute& cx, const AttentionArgs& args, std::size_t heads,
               std::span<const std::uint32_t> offsets, float* scratch,
               std::size_t scratch_per_thread);

void layer_norm(const Compute& cx, float* x, std::size_t rows, std::size_t n, const float* gamma,
                const float* beta, float eps);

// Shares per thread: more than one, so threads that run take the shares of
// one the OS has not scheduled.
inline constexpr std::size_t kSharesPerThread = 4;

// Calls fn(begin, end) on contiguous shares of [0, count), in parallel.
template <class Fn>
void parallel_for(ThreadPool& pool, std::size_t count, Fn&& fn) {
  const std::size_t shares = std::min(count, pool.size() * kSharesPerThread);
  auto share = [&](std::size_t s, std::size_t) {
    fn(count * s / shares, count * (s + 1) / shares);
  };
  pool.run(shares, share);
}

}  // namespace akidb::embed::native
