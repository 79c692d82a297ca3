#include "parallel_ops.hpp"

#include <algorithm>

namespace akidb::embed::native {
namespace {

// Rows of A per chunk so that a chunk (rows x k floats) stays in L2.
std::size_t chunk_rows(std::size_t k, std::size_t tile_rows) {
  constexpr std::size_t kL2Floats = 64 * 1024;  // 256 KiB
  const std::size_t rows = std::max<std::size_t>(1, kL2Floats / std::max<std::size_t>(k, 1));
  return std::max(tile_rows, rows / tile_rows * tile_rows);
}

// Splits C into (chunk of rows, panel) tasks over the pool.
void run_gemm(const Compute& cx, const GemmArgs& g, std::size_t m, std::size_t panels,
              void (*kernel)(const GemmArgs&, std::size_t, std::size_t, std::size_t)) {
  const std::size_t rows = chunk_rows(g.k, cx.kernels.max_rows);
  const std::size_t chunks = (m + rows - 1) / rows;
  // Chunk-major task order: a thread's share walks the panels of one chunk.
  parallel_for(
      cx.pool, chunks * panels,
      [&](std::size_t begin, std::size_t end) {
        for (std::size_t task = begin; task < end; ++task) {
          const std::size_t chunk = task / panels;
          const std::size_t m0 = chunk * rows;
          kernel(g, m0, std::min(m, m0 + rows), task % panels);
        }
      },
      cx.schedule.gemm_shares_per_thread);
}

GemmArgs gemm_args(const float* a, std::size_t lda, float* c, std::size_t ldc, std::size_t n,
                   std::size_t k, Epilogue epilogue, const float* residual, std::size_t ldr) {
  GemmArgs g;
  g.a = a;
  g.lda = lda;
  g.residual = residual;
  g.ldr = ldr;
  g.c = c;
  g.ldc = ldc;
  g.n = n;
  g.k = k;
  g.epilogue = epilogue;
  return g;
}

}  // namespace

void gemm(const Compute& cx, const PackedMatrix& w, const float* a, std::size_t lda, std::size_t m,
          float* c, std::size_t ldc, Epilogue epilogue, const float* residual, std::size_t ldr) {
  GemmArgs g = gemm_args(a, lda, c, ldc, w.n(), w.k(), epilogue, residual, ldr);
  g.packed_b = w.data();
  g.bias = w.bias();
  run_gemm(cx, g, m, w.panels(), cx.kernels.gemm_panel);
}

void gemm(const Compute& cx, const PackedMatrixBf16& w, const float* a, std::size_t lda,
          std::size_t m, float* c, std::size_t ldc, Epilogue epilogue, const float* residual,
          std::size_t ldr) {
  GemmArgs g = gemm_args(a, lda, c, ldc, w.n(), w.k(), epilogue, residual, ldr);
  g.packed_pairs = w.data();
  g.bias = w.bias();
  run_gemm(cx, g, m, w.panels(), cx.kernels.gemm_panel_bf16);
}

void attention(const Compute& cx, const AttentionArgs& args, std::size_t heads,
               std::span<const std::uint32_t> offsets, float* scratch,
               std::size_t scratch_per_thread) {
  const std::size_t sequences = offsets.size() - 1;
  const auto cost = [&](std::size_t s) {
    const std::size_t len = offsets[s + 1] - offsets[s];
    return len * len + 16 * len;  // scores and values, plus per-row overhead
  };
  std::size_t total = 0;
  for (std::size_t s = 0; s < sequences; ++s) total += cost(s) * heads;
  const std::size_t shares = cx.pool.size() * kSharesPerThread;
  auto* const kernel = cx.kernels.attention;
  // Share i takes the (sequence, head) items whose cost midpoint falls in
  // [i, i + 1) * total / shares; scratch is per thread.
  auto share = [&](std::size_t index, std::size_t thread) {
    float* mine = scratch + thread * scratch_per_thread;
    std::size_t before = 0;
    for (std::size_t s = 0; s < sequences; ++s) {
      const std::size_t item = cost(s);
      for (std::size_t h = 0; h < heads; ++h, before += item) {
        const std::size_t mid2 = 2 * before + item;  // twice the midpoint
        const std::size_t owner =
            std::min(shares - 1, mid2 * shares / (2 * std::max<std::size_t>(total, 1)));
        if (owner == index) kernel(args, offsets[s], offsets[s + 1] - offsets[s], h, mine);
      }
    }
  };
  cx.pool.run(shares, share);
}

void layer_norm(const Compute& cx, float* x, std::size_t rows, std::size_t n, const float* gamma,
                const float* beta, float eps) {
  auto* const kernel = cx.kernels.layer_norm;
  if (rows <= cx.schedule.serial_norm_rows) {
    kernel(x, rows, n, n, gamma, beta, eps);
    return;
  }
  parallel_for(cx.pool, rows, [&](std::size_t begin, std::size_t end) {
    kernel(x + begin * n, end - begin, n, n, gamma, beta, eps);
  });
}

}  // namespace akidb::embed::native
