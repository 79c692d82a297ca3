// AVX2 + FMA kernels (compiled with -mavx2 -mfma; see CMakeLists.txt).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#define KERNEL_NS avx2
#include "kernels_impl.hpp"
#include "vec_avx2.hpp"

namespace akidb::embed::native {
const KernelTable& avx2_kernels() noexcept {
  static constexpr KernelTable table = avx2::make_table<avx2::V256, 3, 3>("avx2");
  return table;
}

}  // namespace akidb::embed::native
