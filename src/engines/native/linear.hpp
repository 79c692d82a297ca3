#pragma once
// A linear layer in the precision the engine's variant chose for it at load,
// and the one call the encoder makes for every linear layer whatever that
// precision. A new precision (e.g. bf16) adds an alternative to Linear, a
// WeightFormat, and a branch in make_linear and linear().
#include <cstddef>
#include <span>
#include <variant>

#include "kernels.hpp"
#include "packed_matrix.hpp"
#include "packed_matrix_int8.hpp"
#include "parallel_int8.hpp"
#include "parallel_ops.hpp"

namespace akidb::embed::native {

enum class WeightFormat { Fp32, Int8 };

// The format of each of a layer's four linear layers.
struct LinearFormats {
  WeightFormat qkv = WeightFormat::Fp32;
  WeightFormat attn_out = WeightFormat::Fp32;
  WeightFormat ffn_up = WeightFormat::Fp32;
  WeightFormat ffn_down = WeightFormat::Fp32;
};

using Linear = std::variant<PackedMatrix, PackedMatrixInt8>;

// weight: n rows of k floats (PyTorch layout); bias: n floats.
Linear make_linear(std::span<const float> weight, std::span<const float> bias, std::size_t n,
                   std::size_t k, WeightFormat format);

// Per-encoder scratch the non-fp32 formats need (grows once, then reused).
struct LinearScratch {
  Int8Workspace int8;
};

// C[m, n] = A[m, k] * W^T + bias (+ epilogue), in w's format. int8 weights
// need cx.int8 (the int8 kernel table).
void linear(const Compute& cx, const Linear& w, LinearScratch& scratch, const float* a,
            std::size_t lda, std::size_t m, float* c, std::size_t ldc, Epilogue epilogue,
            const float* residual = nullptr, std::size_t ldr = 0);

}  // namespace akidb::embed::native
