#pragma once
// The normalizers a SentencePiece-style tokenizer.json chains (Precompiled,
// Replace, Strip, Lowercase, NFKC), each replayed on a NormalizedText with HF's
// alignment rules.
#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "tokenizer/normalized_text.hpp"
#include "tokenizer/precompiled_charsmap.hpp"

namespace akidb::embed {

// Replace: a literal, or (from a Regex) one character repeated at least
// min_repeat times; matches are leftmost, non-overlapping, greedy.
struct ReplaceRule {
  std::string literal;
  bool repeated = false;
  std::size_t min_repeat = 1;
  std::string content;
};

struct StripRule {
  bool left = false;
  bool right = false;
};

struct LowercaseRule {};
struct NfkcRule {};

using NormalizerStep =
    std::variant<PrecompiledCharsmap, ReplaceRule, StripRule, LowercaseRule, NfkcRule>;

// Applies every step in order; `ops` is scratch.
void run_normalizers(const std::vector<NormalizerStep>& steps, NormalizedText& text,
                     std::vector<EditOp>& ops);

// Replaces every match of `rule` (HF NormalizedString::replace).
void replace_all(const ReplaceRule& rule, NormalizedText& text, std::vector<EditOp>& ops);

// Parses a Replace regex: a plain literal, or one (possibly escaped) character
// followed by '+' or '{n,}'. Returns false for anything else.
bool parse_replace_regex(const std::string& regex, ReplaceRule& rule);

}  // namespace akidb::embed
