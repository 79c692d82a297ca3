#pragma once
// A linear layer in the precision the engine's variant chose for it at load,
// and the one call the encoder makes for every linear layer whatever that
// precision. Each format packs in its own files (packed_matrix*.hpp); a new
// precision adds an alternative to Linear, a WeightFormat, and a branch in
// make_linear and linear().
#include <cstddef>
#include <span>
#include <string_view>
#include <variant>

#include "kernels.hpp"
#include "packed_matrix.hpp"
#include "packed_matrix_bf16.hpp"
#include "packed_matrix_int8.hpp"
#include "parallel_int8.hpp"
#include "parallel_ops.hpp"

namespace akidb::embed::native {

enum class WeightFormat { Fp32, Bf16, Int8 };

// "fp32" (or empty), "bf16" or "int8" (NativeEngineOptions::variant); anything
// else throws Error(InvalidInput).
WeightFormat parse_weight_format(std::string_view name);
const char* weight_format_name(WeightFormat format) noexcept;

// The format of each of a layer's four linear layers.
struct LinearFormats {
  WeightFormat qkv = WeightFormat::Fp32;
  WeightFormat attn_out = WeightFormat::Fp32;
  WeightFormat ffn_up = WeightFormat::Fp32;
  WeightFormat ffn_down = WeightFormat::Fp32;
};

// A variant's formats: every variant packs all four linear layers of every
// encoder layer in its format (docs/native-engine.md: int8 accuracy by layer).
constexpr LinearFormats formats_of(WeightFormat variant) noexcept {
  return {variant, variant, variant, variant};
}

using Linear = std::variant<PackedMatrix, PackedMatrixBf16, PackedMatrixInt8>;

// weight: n rows of k floats (PyTorch layout); bias: n floats.
Linear make_linear(std::span<const float> weight, std::span<const float> bias, std::size_t n,
                   std::size_t k, WeightFormat format);

// Per-encoder scratch the int8 format needs (grows once, then reused).
struct LinearScratch {
  Int8Workspace int8;
};

// C[m, n] = A[m, k] * W^T + bias (+ epilogue), in w's format. int8 weights
// need cx.int8 (the int8 kernel table).
void linear(const Compute& cx, const Linear& w, LinearScratch& scratch, const float* a,
            std::size_t lda, std::size_t m, float* c, std::size_t ldc, Epilogue epilogue,
            const float* residual = nullptr, std::size_t ldr = 0);

}  // namespace akidb::embed::native
