#include "tokenizer/unigram_model.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "akidb/embed/error.hpp"

namespace akidb::embed {
namespace {

constexpr double kUnkPenalty = 10.0;

std::size_t char_length(unsigned char lead) noexcept {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

UnigramModel::UnigramModel(const std::vector<std::pair<std::string, double>>& pieces,
                           std::int32_t unk_id, bool byte_fallback)
    : unk_id_(unk_id), byte_fallback_(byte_fallback) {
  std::vector<std::pair<std::string, std::int32_t>> entries;
  entries.reserve(pieces.size());
  scores_.reserve(pieces.size());
  double min_score = std::numeric_limits<double>::infinity();
  for (std::size_t id = 0; id < pieces.size(); ++id) {
    entries.emplace_back(pieces[id].first, static_cast<std::int32_t>(id));
    scores_.push_back(pieces[id].second);
    min_score = std::min(min_score, pieces[id].second);
  }
  unk_score_ = min_score - kUnkPenalty;
  trie_ = PieceTrie(entries);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_ids_[static_cast<std::size_t>(b)] = find(name);
  }
}

std::int32_t UnigramModel::find(std::string_view text) const noexcept {
  std::int32_t found = PieceTrie::kNone;
  trie_.prefixes(text.data(), text.size(), [&](std::size_t length, std::int32_t id) {
    if (length == text.size()) found = id;
  });
  return found;
}

void UnigramModel::relax(UnigramLattice& lattice, std::size_t from, std::size_t to, std::int32_t id,
                         double score) const noexcept {
  const double candidate = score + lattice.nodes[from].score;
  auto& target = lattice.nodes[to];
  if (target.start == UnigramLattice::kUnreached || candidate > target.score) {
    target.score = candidate;
    target.start = static_cast<std::uint32_t>(from);
    target.id = id;
  }
}

void UnigramModel::segment(std::string_view text, UnigramLattice& lattice,
                           std::vector<UnigramToken>& out) const {
  const std::size_t size = text.size();
  lattice.nodes.assign(size + 1, UnigramLattice::Node{});
  for (std::size_t at = 0; at < size;) {
    const std::size_t char_len = char_length(static_cast<unsigned char>(text[at]));
    bool has_single = false;
    trie_.prefixes(text.data() + at, size - at, [&](std::size_t length, std::int32_t id) {
      relax(lattice, at, at + length, id, scores_[static_cast<std::size_t>(id)]);
      if (length == char_len) has_single = true;
    });
    if (!has_single) {
      if (unk_id_ == kNoUnk) {
        throw invalid_request("unknown token in the input and the Unigram model has no unk_id");
      }
      relax(lattice, at, at + char_len, unk_id_, unk_score_);
    }
    at += char_len;
  }
  backtrack(size, lattice, out);
}

// Walks the best path back from the end; adjacent unknown tokens are fused.
void UnigramModel::backtrack(std::size_t size, const UnigramLattice& lattice,
                             std::vector<UnigramToken>& out) const {
  out.clear();
  for (std::size_t end = size; end > 0;) {
    const auto& node = lattice.nodes[end];
    const std::uint32_t start = node.start;
    const bool unknown = node.id == unk_id_;
    if (unknown && !out.empty() && out.back().unknown) {
      out.back().begin = start;
    } else {
      out.push_back({start, static_cast<std::uint32_t>(end), node.id, unknown});
    }
    end = start;
  }
  std::reverse(out.begin(), out.end());
}

}  // namespace akidb::embed
