#pragma once
// Byte trie over the Unigram vocabulary for common-prefix search: every piece
// that starts at a position is found in one walk, shortest first.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace akidb::embed {

class PieceTrie {
 public:
  static constexpr std::int32_t kNone = -1;

  PieceTrie() = default;
  // Empty keys are ignored; for a repeated key the last id wins.
  explicit PieceTrie(const std::vector<std::pair<std::string, std::int32_t>>& entries);

  // Calls visit(length, id) for every key that is a prefix of [p, p + n),
  // in increasing length.
  template <typename Visit>
  void prefixes(const char* p, std::size_t n, Visit&& visit) const {
    if (n == 0 || nodes_.empty()) return;
    std::uint32_t node = root_children_[static_cast<unsigned char>(p[0])];
    for (std::size_t i = 1;; ++i) {
      if (node == kNoNode) return;
      const Node& current = nodes_[node];
      if (current.id != kNone) visit(i, current.id);
      if (i == n) return;
      node = child(current, static_cast<unsigned char>(p[i]));
    }
  }

  std::size_t node_count() const noexcept { return nodes_.size(); }

 private:
  static constexpr std::uint32_t kNoNode = 0xFFFFFFFF;
  static constexpr std::uint32_t kMaxScan = 8;  // nodes with more children get a 256-entry table

  struct Node {
    std::uint32_t first_edge = 0;
    std::uint32_t n_edges = 0;
    std::int32_t id = kNone;
    std::uint32_t dense = 0;  // index of its table in dense_ when n_edges > kMaxScan
  };

  std::uint32_t child(const Node& node, unsigned char c) const noexcept {
    if (node.n_edges > kMaxScan) return dense_[node.dense * 256 + c];
    const std::uint32_t end = node.first_edge + node.n_edges;
    for (std::uint32_t e = node.first_edge; e < end; ++e) {
      if (labels_[e] == c) return targets_[e];
    }
    return kNoNode;
  }

  std::vector<Node> nodes_;
  std::vector<unsigned char> labels_;  // edges, grouped by parent, sorted by label
  std::vector<std::uint32_t> targets_;
  std::vector<std::uint32_t> dense_;  // 256 children per wide node
  std::array<std::uint32_t, 256> root_children_{};
};

}  // namespace akidb::embed
