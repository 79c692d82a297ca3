// AVX-512F kernels (compiled with -mavx512f -mfma; see CMakeLists.txt).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define KERNEL_NS avx512
#include "kernels_impl.hpp"
#include "vec_avx512.hpp"

namespace akidb::embed::native {
#include "kernels_dpbf16.hpp"

const KernelTable& avx512_kernels() noexcept {
  static constexpr KernelTable table = avx512::make_table<avx512::V512, 14, 12>("avx512");
  return table;
}

const KernelTable& avx512bf16_kernels() noexcept {
  static constexpr KernelTable table = [] {
    KernelTable t = avx512::make_table<avx512::V512, 14, 12>("avx512");
    t.gemm_panel_bf16 = &avx512::gemm_panel_dpbf16<avx512::V512, 14>;
    t.bf16_method = "vdpbf16ps";
    return t;
  }();
  return table;
}

}  // namespace akidb::embed::native
