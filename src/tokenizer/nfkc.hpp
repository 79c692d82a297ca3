#pragma once
// NFKC with HF `tokenizers`' alignment changes (its unicode-normalization
// fork): compatibility decomposition with canonical reordering, where the
// first part of a character replaces it and the others are inserted; then
// canonical composition, where a composite absorbs the change of what it ate.
// Character data comes from utf8proc.
#include <vector>

#include "tokenizer/normalized_text.hpp"

namespace akidb::embed {

// Rewrites `text` to NFKC; `ops` is scratch.
void run_nfkc(NormalizedText& text, std::vector<EditOp>& ops);

}  // namespace akidb::embed
