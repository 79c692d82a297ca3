#include "pipeline/batch_plan.hpp"

#include <algorithm>
#include <numeric>

namespace akidb::embed {
namespace {

std::vector<std::size_t> input_order(std::span<const std::size_t> lengths, bool sort) {
  std::vector<std::size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (sort) {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
  }
  return order;
}

}  // namespace

std::vector<SubBatch> plan_batches(std::span<const std::size_t> lengths,
                                   const BatchPlanOptions& options) {
  std::vector<SubBatch> batches;
  SubBatch current;
  std::size_t real = 0;  // real tokens in `current`
  for (std::size_t index : input_order(lengths, options.sort_by_length)) {
    const std::size_t len = std::max(options.fixed_padding, lengths[index]);
    const std::size_t seq = std::max(current.seq_len, len);
    const std::size_t cost = options.padded ? seq * (current.members.size() + 1) : real + len;
    const bool full =
        options.max_batch_inputs && current.members.size() >= options.max_batch_inputs;
    if (!current.members.empty() && (cost > options.max_batch_tokens || full)) {
      batches.push_back(std::move(current));
      current = SubBatch{};
      real = 0;
    }
    current.members.push_back(index);
    real += len;
    current.seq_len = std::max(current.seq_len, len);
  }
  if (!current.members.empty()) batches.push_back(std::move(current));
  return batches;
}

}  // namespace akidb::embed
