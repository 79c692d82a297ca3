#pragma once
// Splits one request into sub-batches for inference: inputs sorted by token
// length (so each sub-batch pads only to its own longest member) and grouped
// under a budget of padded tokens.
#include <cstddef>
#include <span>
#include <vector>

namespace akidb::embed {

struct SubBatch {
  std::vector<std::size_t> members;  // indices into the request's inputs
  std::size_t seq_len = 0;           // padded length of this sub-batch
};

struct BatchPlanOptions {
  bool sort_by_length = true;
  std::size_t max_batch_tokens = 16384;  // tokens per sub-batch (at least one input)
  std::size_t fixed_padding = 0;         // 0: dynamic padding
  std::size_t max_batch_inputs = 0;      // 0: no limit besides the token budget
  bool padded = true;                    // count padded tokens (longest * count), else real ones
};

std::vector<SubBatch> plan_batches(std::span<const std::size_t> lengths,
                                   const BatchPlanOptions& options);

}  // namespace akidb::embed
