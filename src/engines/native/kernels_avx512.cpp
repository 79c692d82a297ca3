// AVX-512F kernels (compiled with -mavx512f -mfma; see CMakeLists.txt).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define KERNEL_NS avx512
#include "kernels_impl.hpp"
#include "vec_avx512.hpp"

namespace akidb::embed::native {
const KernelTable& avx512_kernels() noexcept {
  static constexpr KernelTable table = avx512::make_table<avx512::V512, 14>("avx512");
  return table;
}

}  // namespace akidb::embed::native
