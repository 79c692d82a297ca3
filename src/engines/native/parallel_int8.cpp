#include "parallel_int8.hpp"

#include <algorithm>

namespace akidb::embed::native {
namespace {

// Rows of A per chunk so that a chunk (rows x k bytes) stays in L2.
std::size_t chunk_rows(std::size_t k, std::size_t tile_rows) {
  constexpr std::size_t kL2Bytes = 256 * 1024;
  const std::size_t rows = std::max<std::size_t>(1, kL2Bytes / std::max<std::size_t>(k, 1));
  return std::max(tile_rows, rows / tile_rows * tile_rows);
}

}  // namespace

void gemm_int8(const Compute& cx, const Int8KernelTable& kt, const PackedMatrixInt8& w,
               Int8Workspace& ws, const float* a, std::size_t lda, std::size_t m, float* c,
               std::size_t ldc, Epilogue epilogue, const float* residual, std::size_t ldr) {
  const std::size_t kp = int8_padded_k(w.k());
  ws.reserve(m, kp);
  std::uint8_t* q = ws.rows.data();
  float* scales = ws.scales.data();
  parallel_for(cx.pool, m, [&](std::size_t begin, std::size_t end) {
    kt.quantize_rows(a + begin * lda, end - begin, lda, w.k(), q + begin * kp, kp, scales + begin);
  });
  GemmInt8Args g;
  g.a = q;
  g.lda = kp;
  g.row_scales = scales;
  g.packed_b = w.data();
  g.col_scales = w.col_scales();
  g.col_sums = w.col_sums();
  g.out.bias = w.bias();
  g.out.residual = residual;
  g.out.ldr = ldr;
  g.out.c = c;
  g.out.ldc = ldc;
  g.out.n = w.n();
  g.out.k = w.k();
  g.out.epilogue = epilogue;
  const std::size_t rows = chunk_rows(kp, kt.max_rows);
  const std::size_t chunks = (m + rows - 1) / rows;
  const std::size_t panels = w.panels();
  auto* const kernel = kt.gemm_panel;
  parallel_for(cx.pool, chunks * panels, [&](std::size_t begin, std::size_t end) {
    for (std::size_t task = begin; task < end; ++task) {
      const std::size_t m0 = task / panels * rows;
      kernel(g, m0, std::min(m, m0 + rows), task % panels);
    }
  });
}

}  // namespace akidb::embed::native
