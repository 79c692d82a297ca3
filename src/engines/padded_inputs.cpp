#include "engines/padded_inputs.hpp"

#include <algorithm>

namespace akidb::embed {

void PaddedInputs::fill(const SequenceBatch& batch, std::size_t seq, std::int32_t pad_id) {
  const std::size_t b = batch.size();
  ids.assign(b * seq, pad_id);
  mask.assign(b * seq, 0);
  type_ids.assign(b * seq, 0);
  for (std::size_t k = 0; k < b; ++k) {
    const std::size_t begin = batch.offsets[k], len = batch.length(k);
    const auto row = static_cast<std::ptrdiff_t>(k * seq);
    std::copy_n(batch.ids.begin() + static_cast<std::ptrdiff_t>(begin), len, ids.begin() + row);
    std::copy_n(batch.type_ids.begin() + static_cast<std::ptrdiff_t>(begin), len,
                type_ids.begin() + row);
    std::fill_n(mask.begin() + row, len, 1);
  }
}

}  // namespace akidb::embed
