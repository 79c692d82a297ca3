#pragma once
// The encoder's steps split over the thread pool: each step is divided once
// into one contiguous share per thread.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels.hpp"
#include "kernels_int8.hpp"
#include "packed_matrix.hpp"
#include "packed_matrix_bf16.hpp"
#include "step_profile.hpp"
#include "thread_pool.hpp"

namespace akidb::embed::native {

// How steps are cut into shares. The defaults were chosen by measurement
// (docs/native-engine.md, "Batch-1 scheduling"); bench/native_ab.cpp times
// other settings against them in one process. No setting changes a row's
// arithmetic, so every setting gives bit-identical outputs.
struct Schedule {
  // GEMM shares per thread. At batch 1 a GEMM step is 12-48 tasks of a few
  // microseconds and the last share to finish decides when the step ends,
  // so GEMMs are cut finer than other steps (kSharesPerThread).
  std::size_t gemm_shares_per_thread = 16;
  // LayerNorm of at most this many rows runs on the calling thread: a fork
  // and join costs more than the pass (13 rows x 384: about a microsecond).
  std::size_t serial_norm_rows = 16;
};

struct Compute {
  ThreadPool& pool;
  const KernelTable& kernels;
  const Int8KernelTable* int8 = nullptr;  // the int8 variant's GEMMs
  StepProfile* profile = nullptr;         // set: the encoder times every step into it
  Schedule schedule{};
};

// FLOPs (2 x multiply-adds) of an [m, k] x [k, n] GEMM (from the shapes, so
// whatever format the weights are stored in).
inline double gemm_flops(std::size_t m, std::size_t n, std::size_t k) {
  return 2.0 * double(m) * double(n) * double(k);
}

// C[m, w.n()] = A[m, w.k()] * W^T + bias, with the epilogue (residual: [m, n]
// with leading dimension ldr).
void gemm(const Compute& cx, const PackedMatrix& w, const float* a, std::size_t lda, std::size_t m,
          float* c, std::size_t ldc, Epilogue epilogue, const float* residual = nullptr,
          std::size_t ldr = 0);
// The same with bf16 weights (KernelTable::gemm_panel_bf16).
void gemm(const Compute& cx, const PackedMatrixBf16& w, const float* a, std::size_t lda,
          std::size_t m, float* c, std::size_t ldc, Epilogue epilogue,
          const float* residual = nullptr, std::size_t ldr = 0);

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
void parallel_for(ThreadPool& pool, std::size_t count, Fn&& fn,
                  std::size_t shares_per_thread = kSharesPerThread) {
  const std::size_t shares = std::min(count, pool.size() * shares_per_thread);
  auto share = [&](std::size_t s, std::size_t) {
    fn(count * s / shares, count * (s + 1) / shares);
  };
  pool.run(shares, share);
}

}  // namespace akidb::embed::native
