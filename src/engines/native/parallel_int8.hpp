#pragma once
// The int8 GEMM split over the thread pool: the rows of A quantized per row
// (one share of rows per task), then (chunk, panel) tasks as for fp32.
#include <cstddef>

#include "aligned_buffer.hpp"
#include "aligned_bytes.hpp"
#include "kernels_int8.hpp"
#include "packed_matrix_int8.hpp"
#include "parallel_ops.hpp"

namespace akidb::embed::native {

// Quantized activations and their row scales; grows to the largest GEMM seen
// and is reused (no allocation per call after warm-up).
struct Int8Workspace {
  AlignedBytes rows;
  AlignedBuffer scales;
  void reserve(std::size_t m, std::size_t padded_k) {
    rows.reserve(m * padded_k);
    scales.reserve(m);
  }
};

// C[m, w.n()] = A[m, w.k()] * W^T + bias (+ epilogue), A quantized per row.
void gemm_int8(const Compute& cx, const Int8KernelTable& kt, const PackedMatrixInt8& w,
               Int8Workspace& ws, const float* a, std::size_t lda, std::size_t m, float* c,
               std::size_t ldc, Epilogue epilogue, const float* residual = nullptr,
               std::size_t ldr = 0);

}  // namespace akidb::embed::native
