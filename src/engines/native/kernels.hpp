#pragma once
// The per-ISA compute kernels of the native engine, behind a table of
// function pointers chosen once at load (cpu_dispatch.hpp). Kernels work on
// raw pointers and know nothing about threads, models or errors.
#include <cstddef>
#include <cstdint>

namespace akidb::embed::native {

// Weights are packed into panels of kPanelWidth output columns (see
// packed_matrix.hpp); every ISA's GEMM kernel reads that one layout.
inline constexpr std::size_t kPanelWidth = 32;

enum class Epilogue { Bias, BiasGelu, BiasResidual };

// C[m, n] = A[m, k] * B[k, n] + bias[n] (+ residual[m, n] or GELU), B packed.
struct GemmArgs {
  const float* a = nullptr;
  std::size_t lda = 0;
  const float* packed_b = nullptr;  // panels of kPanelWidth columns, k rows each
  // bf16 weights instead (gemm_panel_bf16): panels of kPanelWidth words per
  // pair of k, ceil(k / 2) pairs each (packed_matrix_bf16.hpp).
  const std::uint32_t* packed_pairs = nullptr;
  const float* bias = nullptr;      // padded to a multiple of kPanelWidth
  const float* residual = nullptr;  // BiasResidual only
  std::size_t ldr = 0;
  float* c = nullptr;
  std::size_t ldc = 0;
  std::size_t n = 0;
  std::size_t k = 0;
  Epilogue epilogue = Epilogue::Bias;
};

// Scaled dot-product attention of one head over one sequence of `length`
// tokens. Q, K and V of token t are at qkv + t * ld_qkv + {0, hidden, 2 *
// hidden} + head * head_dim; the context is written at ctx + t * ld_ctx +
// head * head_dim.
struct AttentionArgs {
  const float* qkv = nullptr;
  std::size_t ld_qkv = 0;
  float* ctx = nullptr;
  std::size_t ld_ctx = 0;
  std::size_t hidden = 0;
  std::size_t head_dim = 0;
  float scale = 1.0f;
  // Optional (MPNet): added to the scaled score of query i and key j:
  // position_bias[head * bias_width + bias_centre + j - i].
  const float* position_bias = nullptr;
  std::size_t bias_width = 0;
  std::size_t bias_centre = 0;
};

// Attention works on blocks of this many query rows (kernels_impl.hpp).
// Eight, not four: every K^T and V load then feeds twice the FMAs; measured
// 5.8-6.1 -> 4.3-4.6 ms of attention per 256-token pass (fp32, 2 threads),
// and faster with AVX2 too.
inline constexpr std::size_t kAttentionQueryRows = 8;

// Floats of scratch one attention call needs for sequences up to max_length:
// K transposed (head_dim rows of the length rounded up to 16) plus a row of
// scores per query row of a block.
constexpr std::size_t attention_scratch_floats(std::size_t max_length, std::size_t head_dim) {
  const std::size_t padded = (max_length + 15) / 16 * 16;
  return (head_dim + kAttentionQueryRows) * padded;
}

// A plain aggregate (no default member initializers): it is built inside the
// per-ISA files, and an implicit inline constructor emitted there with
// AVX-512 flags could be the copy the linker keeps for everyone.
struct KernelTable {
  const char* name;
  std::size_t max_rows;  // rows per GEMM micro-tile
  // Rows [m0, m1) of panel `panel` of C.
  void (*gemm_panel)(const GemmArgs& g, std::size_t m0, std::size_t m1, std::size_t panel);
  void (*attention)(const AttentionArgs& a, std::size_t first_token, std::size_t length,
                    std::size_t head, float* scratch);
  // In place: x = (x - mean) / sqrt(var + eps) * gamma + beta, per row.
  void (*layer_norm)(float* x, std::size_t rows, std::size_t ld, std::size_t n, const float* gamma,
                     const float* beta, float eps);
  void (*gelu)(float* x, std::size_t n);  // exact erf GELU, in place
  // gemm_panel with packed_pairs (bf16 weights), fp32 accumulation: with
  // AVX512_BF16, A is rounded to bf16 and vdpbf16ps multiplies pairs; else
  // the weights are widened to fp32 and A stays fp32.
  void (*gemm_panel_bf16)(const GemmArgs& g, std::size_t m0, std::size_t m1, std::size_t panel);
  const char* bf16_method;  // "vdpbf16ps" or "widen"
};

const KernelTable& avx512_kernels() noexcept;
// avx512_kernels() with gemm_panel_bf16 on vdpbf16ps (CPUs with AVX512_BF16).
const KernelTable& avx512bf16_kernels() noexcept;
const KernelTable& avx2_kernels() noexcept;

}  // namespace akidb::embed::native
