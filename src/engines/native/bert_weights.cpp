#include "bert_weights.hpp"

#include <array>
#include <string>

#include "relative_position.hpp"
#include "safetensors.hpp"

namespace akidb::embed::native {
namespace {

using Shape = std::vector<std::size_t>;

class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : file_(path) {
    for (const char* prefix : {"bert.", "roberta.", "mpnet."}) {
      if (file_.contains(std::string(prefix) + "embeddings.word_embeddings.weight"))
        prefix_ = prefix;
    }
  }
  // The tensor in the mapping when aligned, else a copy in `copy`.
  std::span<const float> f32(const std::string& name, const Shape& shape,
                             std::vector<float>& copy) const {
    auto view = file_.view_f32(prefix_ + name, shape);
    if (!view.empty() || shape_count(shape) == 0) return view;
    copy = file_.read_f32(prefix_ + name, shape);
    return copy;
  }
  // Done with this tensor: its pages leave the process's RSS.
  void release(const std::string& name) const noexcept { file_.release(prefix_ + name); }
  WeightArray<float> buffer(const std::string& name, const Shape& shape) const {
    std::vector<float> copy;
    auto out = WeightArray<float>::copy_of(f32(name, shape, copy));
    release(name);
    return out;
  }
  // Zero-copy when the tensor is aligned in the mapping (kept alive by `keep`).
  WeightArray<float> view(const std::string& name, const Shape& shape, BertWeights& keep) const {
    const auto v = file_.view_f32(prefix_ + name, shape);
    if (v.empty()) return buffer(name, shape);
    keep.mappings.push_back(file_.mapping());
    return WeightArray<float>::view(v.data(), v.size());
  }
  LayerNormWeights layer_norm(const std::string& name, std::size_t n) const {
    return {buffer(name + ".weight", {n}), buffer(name + ".bias", {n})};
  }
  Linear linear(const std::string& name, std::size_t out, std::size_t in,
                WeightFormat format) const {
    std::vector<float> wc, bc;
    Linear l = make_linear(f32(name + ".weight", {out, in}, wc), f32(name + ".bias", {out}, bc),
                           out, in, format);
    release(name + ".weight");
    release(name + ".bias");
    return l;
  }

 private:
  static std::size_t shape_count(const Shape& shape) {
    std::size_t n = 1;
    for (const auto d : shape) n *= d;
    return n;
  }
  SafetensorsFile file_;
  std::string prefix_;
};

Linear load_qkv(const Reader& r, const std::string& base, const std::array<const char*, 3>& parts,
                std::size_t hidden, WeightFormat format) {
  std::vector<float> weight, bias;
  weight.reserve(3 * hidden * hidden);
  bias.reserve(3 * hidden);
  for (const char* part : parts) {
    std::vector<float> wc, bc;
    const auto w = r.f32(base + part + ".weight", {hidden, hidden}, wc);
    const auto b = r.f32(base + part + ".bias", {hidden}, bc);
    weight.insert(weight.end(), w.begin(), w.end());
    bias.insert(bias.end(), b.begin(), b.end());
    r.release(base + part + ".weight");
    r.release(base + part + ".bias");
  }
  return make_linear(weight, bias, 3 * hidden, hidden, format);
}

// Attention tensor names: BERT's attention.self.{query,key,value},
// attention.output.{dense,LayerNorm}; MPNet's attention.attn.{q,k,v,o},
// attention.LayerNorm.
struct AttentionNames {
  const char* qkv_base;
  std::array<const char*, 3> qkv;
  const char* out;
  const char* ln;
};

constexpr AttentionNames kBertNames{"attention.self.",
                                    {"query", "key", "value"},
                                    "attention.output.dense",
                                    "attention.output.LayerNorm"};
constexpr AttentionNames kMpnetNames{
    "attention.attn.", {"q", "k", "v"}, "attention.attn.o", "attention.LayerNorm"};

LayerWeights load_layer(const Reader& r, const BertConfig& c, std::size_t index,
                        const LinearFormats& f) {
  const std::string base = "encoder.layer." + std::to_string(index) + ".";
  const std::size_t h = c.hidden_size;
  const AttentionNames& names = c.family == Family::MPNet ? kMpnetNames : kBertNames;
  LayerWeights l;
  l.qkv = load_qkv(r, base + names.qkv_base, names.qkv, h, f.qkv);
  l.attn_out = r.linear(base + names.out, h, h, f.attn_out);
  l.attn_ln = r.layer_norm(base + names.ln, h);
  l.ffn_up = r.linear(base + "intermediate.dense", c.intermediate_size, h, f.ffn_up);
  l.ffn_down = r.linear(base + "output.dense", h, c.intermediate_size, f.ffn_down);
  l.out_ln = r.layer_norm(base + "output.LayerNorm", h);
  return l;
}

}  // namespace

BertWeights load_bert_weights(const std::filesystem::path& safetensors, const BertConfig& c,
                              const LinearFormats& formats) {
  const Reader r(safetensors);
  BertWeights w;
  const std::size_t h = c.hidden_size;
  w.word = r.view("embeddings.word_embeddings.weight", {c.vocab_size, h}, w);
  w.position = r.buffer("embeddings.position_embeddings.weight", {c.max_position_embeddings, h});
  if (c.family == Family::MPNet) {
    w.token_type = WeightArray<float>(h);
    std::vector<float> copy;
    const auto table = r.f32("encoder.relative_attention_bias.weight",
                             {c.relative_attention_buckets, c.num_heads}, copy);
    w.relative_bias =
        WeightArray<float>::copy_of(bias_by_distance(table, c.relative_attention_buckets,
                                                     c.num_heads, c.max_position_embeddings)
                                        .span());
  } else {
    w.token_type = r.buffer("embeddings.token_type_embeddings.weight", {c.type_vocab_size, h});
  }
  w.embedding_ln = r.layer_norm("embeddings.LayerNorm", h);
  w.layers.reserve(c.num_layers);
  for (std::size_t i = 0; i < c.num_layers; ++i) w.layers.push_back(load_layer(r, c, i, formats));
  return w;
}

}  // namespace akidb::embed::native
