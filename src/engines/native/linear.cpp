#include "linear.hpp"

#include "akidb/embed/error.hpp"

namespace akidb::embed::native {

Linear make_linear(std::span<const float> weight, std::span<const float> bias, std::size_t n,
                   std::size_t k, WeightFormat format) {
  if (format == WeightFormat::Int8)
    return Linear(std::in_place_type<PackedMatrixInt8>, weight, bias, n, k);
  return Linear(std::in_place_type<PackedMatrix>, weight, bias, n, k);
}

void linear(const Compute& cx, const Linear& w, LinearScratch& scratch, const float* a,
            std::size_t lda, std::size_t m, float* c, std::size_t ldc, Epilogue epilogue,
            const float* residual, std::size_t ldr) {
  if (const auto* fp32 = std::get_if<PackedMatrix>(&w)) {
    gemm(cx, *fp32, a, lda, m, c, ldc, epilogue, residual, ldr);
    return;
  }
  if (cx.int8 == nullptr)
    throw Error(ErrorCode::Internal, "native engine: int8 weights without int8 kernels");
  gemm_int8(cx, *cx.int8, std::get<PackedMatrixInt8>(w), scratch.int8, a, lda, m, c, ldc, epilogue,
            residual, ldr);
}

}  // namespace akidb::embed::native
