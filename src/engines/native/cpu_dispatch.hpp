#pragma once
// Picks the kernel table for this CPU at run time.
#include <string_view>

#include "kernels.hpp"
#include "kernels_int8.hpp"

namespace akidb::embed::native {

enum class Isa { Auto, Avx2, Avx512, Avx512Bf16 };

// "auto", "avx2", "avx512" (AVX-512F without the bf16 dot product: the bf16
// variant widens its weights), "avx512bf16"; anything else throws
// Error(InvalidInput).
Isa parse_isa(std::string_view name);

// The fastest table the CPU supports, capped by `requested` (Auto: no cap).
// Throws Error(Unavailable) when the CPU lacks AVX2 + FMA, or lacks AVX-512F
// (AVX512_BF16) and Avx512 (Avx512Bf16) is requested.
const KernelTable& select_kernels(Isa requested);

// The int8 kernels for the int8 variant: VNNI where the CPU has AVX512-VNNI
// (and AVX512-BW) unless `requested` is Avx2, else AVX2. Throws as
// select_kernels does.
const Int8KernelTable& select_int8_kernels(Isa requested);

}  // namespace akidb::embed::native
