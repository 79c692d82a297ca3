#include "tokenizer/piece_trie.hpp"

#include <algorithm>
#include <map>

namespace akidb::embed {
namespace {

// Build-time trie: children in ordered maps, flattened afterwards.
struct BuildNode {
  std::map<unsigned char, std::uint32_t> children;
  std::int32_t id = PieceTrie::kNone;
};

}  // namespace

PieceTrie::PieceTrie(const std::vector<std::pair<std::string, std::int32_t>>& entries) {
  root_children_.fill(kNoNode);
  std::vector<BuildNode> build(1);  // build[0] is the root (no key)
  for (const auto& [key, id] : entries) {
    if (key.empty()) continue;
    std::uint32_t node = 0;
    for (const char ch : key) {
      const auto c = static_cast<unsigned char>(ch);
      const auto it = build[node].children.find(c);
      if (it != build[node].children.end()) {
        node = it->second;
        continue;
      }
      const auto next = static_cast<std::uint32_t>(build.size());
      build[node].children.emplace(c, next);
      build.emplace_back();
      node = next;
    }
    build[node].id = id;
  }
  // Flat nodes keep the build indices minus one (the root is not stored).
  nodes_.resize(build.size() - 1);
  for (std::size_t b = 1; b < build.size(); ++b) {
    Node& node = nodes_[b - 1];
    node.id = build[b].id;
    node.first_edge = static_cast<std::uint32_t>(labels_.size());
    node.n_edges = static_cast<std::uint32_t>(build[b].children.size());
    for (const auto& [c, target] : build[b].children) {
      labels_.push_back(c);
      targets_.push_back(target - 1);
    }
    if (node.n_edges > kMaxScan) {
      node.dense = static_cast<std::uint32_t>(dense_.size() / 256);
      dense_.resize(dense_.size() + 256, kNoNode);
      for (const auto& [c, target] : build[b].children) dense_[node.dense * 256 + c] = target - 1;
    }
  }
  for (const auto& [c, target] : build[0].children) root_children_[c] = target - 1;
}

}  // namespace akidb::embed
