#pragma once
// Loading the Unigram parts of tokenizer.json (model, normalizer, pre_tokenizer).
#include <nlohmann/json_fwd.hpp>

#include "tokenizer/tokenizer_impl.hpp"

namespace akidb::embed {

// model.type == "Unigram": vocab [[piece, score], ...], unk_id, byte_fallback.
// Fills t.unigram, t.vocab, t.id_to_token, t.unk_id. Throws Error(ModelError).
void load_unigram_model(const nlohmann::json& model, TokenizerData& t);
// Sequence / Precompiled / Replace / Strip / Lowercase, or null.
void load_unigram_normalizer(const nlohmann::json& node, TokenizerData& t);
// Metaspace (or a Sequence holding only it), or null.
void load_unigram_pre_tokenizer(const nlohmann::json& node, TokenizerData& t);

}  // namespace akidb::embed
