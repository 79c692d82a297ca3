#include "cached_weights.hpp"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "packed_cache.hpp"

namespace akidb::embed::native {
namespace {

template <class T>
std::span<const std::byte> bytes_of(const WeightArray<T>& a) {
  return a.bytes();
}

template <class T>
WeightArray<T> view_of(std::span<const std::byte> b) {
  return WeightArray<T>::view(reinterpret_cast<const T*>(b.data()), b.size() / sizeof(T));
}

struct LinearSlot {
  std::string name;
  Linear* linear;
  std::size_t n, k;
};

std::vector<LinearSlot> linear_slots(BertWeights& w, const BertConfig& c) {
  std::vector<LinearSlot> out;
  const std::size_t h = c.hidden_size, inter = c.intermediate_size;
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    auto& l = w.layers[i];
    const std::string p = "layer." + std::to_string(i) + ".";
    out.push_back({p + "qkv", &l.qkv, 3 * h, h});
    out.push_back({p + "attn_out", &l.attn_out, h, h});
    out.push_back({p + "ffn_up", &l.ffn_up, inter, h});
    out.push_back({p + "ffn_down", &l.ffn_down, h, inter});
  }
  return out;
}

struct FloatSlot {
  std::string name;
  WeightArray<float>* array;
  std::size_t count;
};

std::vector<FloatSlot> float_slots(BertWeights& w, const BertConfig& c) {
  const std::size_t h = c.hidden_size;
  const bool mpnet = c.family == Family::MPNet;
  std::vector<FloatSlot> out = {
      {"embeddings.word", &w.word, c.vocab_size * h},
      {"embeddings.position", &w.position, c.max_position_embeddings * h},
      {"embeddings.token_type", &w.token_type, (mpnet ? 1 : c.type_vocab_size) * h},
      {"embeddings.ln.gamma", &w.embedding_ln.gamma, h},
      {"embeddings.ln.beta", &w.embedding_ln.beta, h}};
  if (mpnet)
    out.push_back(
        {"relative_bias", &w.relative_bias, c.num_heads * (2 * c.max_position_embeddings - 1)});
  for (std::size_t i = 0; i < w.layers.size(); ++i) {
    auto& l = w.layers[i];
    const std::string p = "layer." + std::to_string(i) + ".";
    out.push_back({p + "attn_ln.gamma", &l.attn_ln.gamma, h});
    out.push_back({p + "attn_ln.beta", &l.attn_ln.beta, h});
    out.push_back({p + "out_ln.gamma", &l.out_ln.gamma, h});
    out.push_back({p + "out_ln.beta", &l.out_ln.beta, h});
  }
  return out;
}

// The blobs of one linear layer: "<slot>.packed" and "<slot>.bias", and for
// int8 also "<slot>.scales" and "<slot>.sums".
void add_blobs(std::vector<CacheBlob>& out, const std::string& name, const Linear& linear) {
  std::visit(
      [&](const auto& m) {
        out.push_back({name + ".packed", bytes_of(m.packed_array())});
        out.push_back({name + ".bias", bytes_of(m.bias_array())});
      },
      linear);
  if (const auto* q = std::get_if<PackedMatrixInt8>(&linear)) {
    out.push_back({name + ".scales", bytes_of(q->scales_array())});
    out.push_back({name + ".sums", bytes_of(q->sums_array())});
  }
}

std::vector<CacheBlob> blobs_of(BertWeights& w, const BertConfig& c) {
  std::vector<CacheBlob> out;
  for (const auto& s : float_slots(w, c)) out.push_back({s.name, bytes_of(*s.array)});
  for (const auto& s : linear_slots(w, c)) add_blobs(out, s.name, *s.linear);
  return out;
}

template <class T>
WeightArray<T> blob_of(const PackedCache& cache, const std::string& name, std::size_t count) {
  return view_of<T>(cache.blob(name, count * sizeof(T)));
}

Linear linear_from(const PackedCache& cache, const LinearSlot& s, WeightFormat format) {
  if (format == WeightFormat::Int8) {
    const std::size_t cols = PackedMatrixInt8::padded_cols(s.n);
    return PackedMatrixInt8(
        s.n, s.k,
        blob_of<std::int8_t>(cache, s.name + ".packed", PackedMatrixInt8::packed_bytes(s.n, s.k)),
        blob_of<float>(cache, s.name + ".scales", cols),
        blob_of<std::int32_t>(cache, s.name + ".sums", cols),
        blob_of<float>(cache, s.name + ".bias", cols));
  }
  auto bias = blob_of<float>(cache, s.name + ".bias", PackedMatrix::bias_floats(s.n));
  if (format == WeightFormat::Bf16)
    return PackedMatrixBf16(
        s.n, s.k,
        blob_of<std::uint32_t>(cache, s.name + ".packed", PackedMatrixBf16::pair_words(s.n, s.k)),
        std::move(bias));
  return PackedMatrix(
      s.n, s.k, blob_of<float>(cache, s.name + ".packed", PackedMatrix::packed_floats(s.n, s.k)),
      std::move(bias));
}

BertWeights weights_from(const PackedCache& cache, const BertConfig& c, WeightFormat format) {
  BertWeights w;
  w.layers.resize(c.num_layers);
  for (const auto& s : float_slots(w, c))
    *s.array = view_of<float>(cache.blob(s.name, s.count * sizeof(float)));
  for (const auto& s : linear_slots(w, c)) *s.linear = linear_from(cache, s, format);
  w.mappings.push_back(cache.mapping());
  return w;
}

// The sha256 and size akidb.json records for `file`, if its size still matches.
std::optional<std::pair<std::string, std::string>> recorded(const nlohmann::json& files,
                                                            const std::filesystem::path& dir,
                                                            const std::string& file) {
  if (!files.contains(file)) return std::nullopt;
  const auto& entry = files.at(file);
  if (!entry.contains("sha256") || !entry.contains("bytes")) return std::nullopt;
  std::error_code ec;
  const auto size = std::filesystem::file_size(dir / file, ec);
  if (ec || size != entry.at("bytes").get<std::uintmax_t>()) return std::nullopt;
  return std::make_pair(entry.at("sha256").get<std::string>(), std::to_string(size));
}

// The cache's identity, or why there is none.
std::optional<CacheIdentity> identity_of(const std::filesystem::path& dir, WeightFormat format,
                                         std::string& why) {
  std::ifstream in(dir / "akidb.json");
  nlohmann::json manifest;
  try {
    if (in) manifest = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception&) {
    manifest = nlohmann::json();
  }
  const nlohmann::json files =
      manifest.is_object() && manifest.contains("files") ? manifest.at("files") : nlohmann::json();
  CacheIdentity id{{"variant", weight_format_name(format)},
                   {"layout", "panel32-v" + std::to_string(kPackedLayoutVersion)}};
  for (const char* file : {"model.safetensors", "config.json"}) {
    const auto r = files.is_object() ? recorded(files, dir, file) : std::nullopt;
    if (!r) {
      why = std::string("akidb.json records no sha256 matching ") + file + "'s size";
      return std::nullopt;
    }
    id[std::string(file) + ".sha256"] = r->first;
    id[std::string(file) + ".bytes"] = r->second;
  }
  return id;
}

void log_line(const std::string& what) {
  std::cerr << "akidb-embed: native engine: " << what << "\n";
}

}  // namespace

std::filesystem::path cache_path(const std::filesystem::path& model_dir, WeightFormat format) {
  return model_dir / (std::string("native-") + weight_format_name(format) + "-p32v" +
                      std::to_string(kPackedLayoutVersion) + ".packed");
}

LoadedWeights load_weights(const std::filesystem::path& dir, const BertConfig& c,
                           WeightFormat format, bool use_cache) {
  const auto source = dir / "model.safetensors";
  if (!use_cache) return {load_bert_weights(source, c, formats_of(format)), "off"};
  std::string why;
  const auto id = identity_of(dir, format, why);
  if (!id) {
    log_line("packed-weights cache not used: " + why);
    return {load_bert_weights(source, c, formats_of(format)), "skipped: " + why};
  }
  const auto path = cache_path(dir, format);
  if (std::filesystem::exists(path))
    return {weights_from(PackedCache(path, *id), c, format), "mapped"};
  BertWeights packed = load_bert_weights(source, c, formats_of(format));
  why = write_packed_cache(path, *id, blobs_of(packed, c));
  if (!why.empty()) {
    log_line("packed-weights cache not written: " + why);
    return {std::move(packed), "skipped: " + why};
  }
  // Point at the file just written and free the packed copies.
  return {weights_from(PackedCache(path, *id), c, format), "written"};
}

}  // namespace akidb::embed::native
