#pragma once
// The Unigram (SentencePiece) model: Viterbi segmentation of one pre-tokenized
// piece over the scored vocabulary, as HF `tokenizers`' Unigram::encode_optimized
// does it (unknown characters score min_score - 10; consecutive unknown
// characters fuse into one token).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/piece_trie.hpp"

namespace akidb::embed {

// A token of a segmented piece: bytes [begin, end) of it, the vocabulary id,
// and whether it is the fusion of unknown characters.
struct UnigramToken {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::int32_t id = 0;
  bool unknown = false;
};

// Per-call scratch for the Viterbi lattice (reused across pieces).
struct UnigramLattice {
  static constexpr std::uint32_t kUnreached = 0xFFFFFFFF;
  struct Node {
    double score = 0.0;
    std::uint32_t start = kUnreached;
    std::int32_t id = 0;
  };
  std::vector<Node> nodes;
};

class UnigramModel {
 public:
  static constexpr std::int32_t kNoUnk = -1;

  UnigramModel() = default;
  // `pieces` in id order; unk_id may be kNoUnk. The caller validates.
  UnigramModel(const std::vector<std::pair<std::string, double>>& pieces, std::int32_t unk_id,
               bool byte_fallback);

  // Segments `text` (non-empty, valid UTF-8) into `out` (cleared first).
  // Throws Error(InvalidInput) when an unknown character needs an unk_id that
  // the model lacks, as HF does.
  void segment(std::string_view text, UnigramLattice& lattice,
               std::vector<UnigramToken>& out) const;

  std::int32_t unk_id() const noexcept { return unk_id_; }
  bool byte_fallback() const noexcept { return byte_fallback_; }
  // Id of "<0xXX>" for byte b, or PieceTrie::kNone.
  std::int32_t byte_id(unsigned char b) const noexcept { return byte_ids_[b]; }
  // Id of the piece equal to `text`, or PieceTrie::kNone.
  std::int32_t find(std::string_view text) const noexcept;

 private:
  void relax(UnigramLattice& lattice, std::size_t from, std::size_t to, std::int32_t id,
             double score) const noexcept;
  void backtrack(std::size_t size, const UnigramLattice& lattice,
                 std::vector<UnigramToken>& out) const;

  PieceTrie trie_;
  std::vector<double> scores_;
  std::int32_t unk_id_ = kNoUnk;
  double unk_score_ = 0.0;
  bool byte_fallback_ = false;
  std::array<std::int32_t, 256> byte_ids_{};
};

}  // namespace akidb::embed
