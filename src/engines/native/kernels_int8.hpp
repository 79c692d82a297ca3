#pragma once
// The int8 GEMM kernels of the native engine's int8 variant, behind their own
// table (chosen once at load, cpu_dispatch.hpp): VNNI (vpdpbusd) where the CPU
// has AVX512-VNNI, else AVX2 (vpmaddubsw + vpmaddwd). Both give the same int32
// sums exactly, so the same outputs for the same inputs.
//
// Method: weights int8 per output channel (symmetric, scale = max|w| / 127,
// quantized once at load: packed_matrix_int8.hpp); activations int8 per row
// (per token: scale = max|x| / 127), quantized right before each GEMM by
// quantize_rows, so a row never depends on the other rows of the batch.
// C = int32(qa . qw) * row_scale * col_scale, then the fp32 epilogue (bias,
// GELU, residual) of the fp32 kernels.
#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

namespace akidb::embed::native {

// Weight panels: kPanelWidth output columns by groups of kInt8Group k values:
// panel p, group g holds, for each of the 32 columns, its 4 int8 weights
// w[col][4g .. 4g + 3] (128 bytes: two zmm or four ymm). k is zero-padded to a
// multiple of kInt8Group.
inline constexpr std::size_t kInt8Group = 4;

constexpr std::size_t int8_padded_k(std::size_t k) {
  return (k + kInt8Group - 1) / kInt8Group * kInt8Group;
}

// C[m, n] = dequant(Aq[m, k] * Wq[k, n]) + epilogue. `out` carries C, the
// bias, the residual, n, k and the epilogue exactly as for the fp32 GEMM
// (out.a and out.packed_b are unused).
struct GemmInt8Args {
  const std::uint8_t* a = nullptr;  // quantized rows, lda bytes apart (quantize_rows' format)
  std::size_t lda = 0;
  const float* row_scales = nullptr;       // one per row of A
  const std::int8_t* packed_b = nullptr;   // panels as above
  const float* col_scales = nullptr;       // padded to a multiple of kPanelWidth
  const std::int32_t* col_sums = nullptr;  // sum over k of each column's int8 weights (padded)
  GemmArgs out;
};

struct Int8KernelTable {
  const char* name;
  std::size_t max_rows;  // rows per micro-tile
  // Rows [m0, m1) of panel `panel` of C.
  void (*gemm_panel)(const GemmInt8Args& g, std::size_t m0, std::size_t m1, std::size_t panel);
  // Rows of x ([rows, k], leading dimension ldx) to int8 in this table's
  // format (VNNI: q + 128 as uint8; AVX2: q as int8), ldq bytes apart, the
  // k..ldq padding written as a zero; scales[r] = max|x_r| / 127 (0 for an
  // all-zero row). q = round-to-nearest-even(x * (127 / max|x_r|)), the same
  // on every ISA.
  void (*quantize_rows)(const float* x, std::size_t rows, std::size_t ldx, std::size_t k,
                        std::uint8_t* q, std::size_t ldq, float* scales);
};

const Int8KernelTable& vnni_int8_kernels() noexcept;
const Int8KernelTable& avx2_int8_kernels() noexcept;

}  // namespace akidb::embed::native
