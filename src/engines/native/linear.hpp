#pragma once
// One linear layer's packed weights, in the variant's format: the encoder
// calls gemm() on it (parallel_ops.hpp), which dispatches on the format.
#include <variant>

#include "packed_matrix.hpp"
#include "packed_matrix_bf16.hpp"

namespace akidb::embed::native {

using Linear = std::variant<PackedMatrix, PackedMatrixBf16>;

}  // namespace akidb::embed::native
