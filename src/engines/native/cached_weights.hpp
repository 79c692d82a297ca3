#pragma once
// The encoder's weights through the packed-weights cache
// (<model_dir>/native-<variant>-p32v<N>.packed, packed_cache.hpp): mapped
// with no copy when the cache matches the model, else packed from
// model.safetensors and the cache written for next time (skipped with a log
// line on stderr when the directory is not writable, never an error).
#include <filesystem>
#include <string>

#include "bert_config.hpp"
#include "bert_weights.hpp"

namespace akidb::embed::native {

// The version of the packed layouts (PackedMatrix, PackedMatrixBf16,
// PackedMatrixInt8): bump it when a layout changes, so older cache files are
// not read.
inline constexpr int kPackedLayoutVersion = 1;

std::filesystem::path cache_path(const std::filesystem::path& model_dir, WeightFormat format);

struct LoadedWeights {
  BertWeights weights;
  // "mapped" (read from the cache), "written" (packed, cache written),
  // "off" (cache disabled) or "skipped: <why>" (packed, no cache).
  std::string cache;
};

// use_cache false: pack from model.safetensors only. The cache is used only
// when akidb.json records the sha256 and size of model.safetensors and
// config.json (prepare_model writes them) and the files still have those
// sizes. A cache that exists but does not match (other hashes, truncated,
// corrupt) is Error(ModelError) naming it.
LoadedWeights load_weights(const std::filesystem::path& model_dir, const BertConfig& config,
                           WeightFormat format, bool use_cache);

}  // namespace akidb::embed::native
