#include "cpu_dispatch.hpp"

#include <string>

#include "akidb/embed/error.hpp"

namespace akidb::embed::native {
namespace {

bool has_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool has_avx512() { return has_avx2_fma() && __builtin_cpu_supports("avx512f"); }
bool has_avx512bf16() {
  return has_avx512() && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16");
}
bool has_vnni() {
  return has_avx512() && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
}

}  // namespace

Isa parse_isa(std::string_view name) {
  if (name.empty() || name == "auto") return Isa::Auto;
  if (name == "avx2") return Isa::Avx2;
  if (name == "avx512") return Isa::Avx512;
  if (name == "avx512bf16") return Isa::Avx512Bf16;
  throw invalid_request("native engine: unknown ISA '" + std::string(name) +
                        "' (expected auto, avx2, avx512 or avx512bf16)");
}

const KernelTable& select_kernels(Isa requested) {
  if (!has_avx2_fma())
    throw Error(ErrorCode::Unavailable, "native engine: this CPU lacks AVX2 + FMA");
  if (requested == Isa::Avx2) return avx2_kernels();
  if (requested != Isa::Avx512 && has_avx512bf16()) return avx512bf16_kernels();
  if (requested == Isa::Avx512Bf16)
    throw Error(ErrorCode::Unavailable, "native engine: this CPU lacks AVX512_BF16");
  if (has_avx512()) return avx512_kernels();
  if (requested == Isa::Avx512)
    throw Error(ErrorCode::Unavailable, "native engine: this CPU lacks AVX-512F");
  return avx2_kernels();
}

const Int8KernelTable& select_int8_kernels(Isa requested) {
  select_kernels(requested);  // the same refusals
  if (requested != Isa::Avx2 && has_vnni()) return vnni_int8_kernels();
  return avx2_int8_kernels();
}

}  // namespace akidb::embed::native
