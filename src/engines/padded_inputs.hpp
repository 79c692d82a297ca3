#pragma once
// A packed batch (engine.hpp's SequenceBatch) laid out as the [batch, seq]
// int64 tensors a padded graph takes: input_ids, attention_mask and
// token_type_ids. Shared by the engines that run an ONNX graph (ONNX
// Runtime on the CPU, its CUDA provider, OpenVINO).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "akidb/embed/engine.hpp"

namespace akidb::embed {

struct PaddedInputs {
  std::vector<std::int64_t> ids, mask, type_ids;

  // Row k holds sequence k, then `pad_id` (mask 0) up to `seq` tokens.
  void fill(const SequenceBatch& batch, std::size_t seq, std::int32_t pad_id);
};

}  // namespace akidb::embed
