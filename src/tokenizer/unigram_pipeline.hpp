#pragma once
// Everything a Unigram tokenizer.json adds to the shared TokenizerData: the
// model, its normalizers and the Metaspace pre-tokenizer.
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/unigram_model.hpp"
#include "tokenizer/unigram_normalizer.hpp"

namespace akidb::embed {

enum class PrependScheme { Always, First, Never };

struct MetaspaceConfig {
  bool enabled = false;  // false: no pre-tokenizer (the segment is one piece)
  char32_t replacement = U'\u2581';
  std::string replacement_utf8 = "\u2581";
  PrependScheme prepend = PrependScheme::Always;
  bool split = true;
};

struct UnigramPipeline {
  UnigramModel model;
  std::vector<NormalizerStep> normalizers;
  MetaspaceConfig metaspace;
};

}  // namespace akidb::embed
