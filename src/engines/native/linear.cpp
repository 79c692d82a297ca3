#include "linear.hpp"

#include <string>

#include "akidb/embed/error.hpp"

namespace akidb::embed::native {

WeightFormat parse_weight_format(std::string_view name) {
  if (name.empty() || name == "fp32") return WeightFormat::Fp32;
  if (name == "bf16") return WeightFormat::Bf16;
  if (name == "int8") return WeightFormat::Int8;
  throw invalid_request("native engine: unknown variant '" + std::string(name) +
                        "' (expected fp32, bf16 or int8)");
}

const char* weight_format_name(WeightFormat format) noexcept {
  switch (format) {
    case WeightFormat::Bf16:
      return "bf16";
    case WeightFormat::Int8:
      return "int8";
    case WeightFormat::Fp32:
      break;
  }
  return "fp32";
}

Linear make_linear(std::span<const float> weight, std::span<const float> bias, std::size_t n,
                   std::size_t k, WeightFormat format) {
  switch (format) {
    case WeightFormat::Bf16:
      return Linear(std::in_place_type<PackedMatrixBf16>, weight, bias, n, k);
    case WeightFormat::Int8:
      return Linear(std::in_place_type<PackedMatrixInt8>, weight, bias, n, k);
    case WeightFormat::Fp32:
      break;
  }
  return Linear(std::in_place_type<PackedMatrix>, weight, bias, n, k);
}

void linear(const Compute& cx, const Linear& w, LinearScratch& scratch, const float* a,
            std::size_t lda, std::size_t m, float* c, std::size_t ldc, Epilogue epilogue,
            const float* residual, std::size_t ldr) {
  if (const auto* fp32 = std::get_if<PackedMatrix>(&w)) {
    gemm(cx, *fp32, a, lda, m, c, ldc, epilogue, residual, ldr);
    return;
  }
  if (const auto* bf16 = std::get_if<PackedMatrixBf16>(&w)) {
    gemm(cx, *bf16, a, lda, m, c, ldc, epilogue, residual, ldr);
    return;
  }
  if (cx.int8 == nullptr)
    throw Error(ErrorCode::Internal, "native engine: int8 weights without int8 kernels");
  gemm_int8(cx, *cx.int8, std::get<PackedMatrixInt8>(w), scratch.int8, a, lda, m, c, ldc, epilogue,
            residual, ldr);
}

}  // namespace akidb::embed::native
