#include "bert_weights.hpp"

#include <string>

#include "safetensors.hpp"

namespace akidb::embed::native {
namespace {

using Shape = std::vector<std::size_t>;

class Reader {
 public:
  explicit Reader(const std::filesystem::path& path) : file_(path) {
    prefix_ = file_.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
  }
  std::vector<float> f32(const std::string& name, const Shape& shape) const {
    return file_.read_f32(prefix_ + name, shape);
  }
  AlignedBuffer buffer(const std::string& name, const Shape& shape) const {
    const auto v = f32(name, shape);
    AlignedBuffer b(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) b.data()[i] = v[i];
    return b;
  }
  LayerNormWeights layer_norm(const std::string& name, std::size_t n) const {
    return {buffer(name + ".weight", {n}), buffer(name + ".bias", {n})};
  }
  PackedMatrix linear(const std::string& name, std::size_t out, std::size_t in) const {
    return PackedMatrix(f32(name + ".weight", {out, in}), f32(name + ".bias", {out}), out, in);
  }

 private:
  SafetensorsFile file_;
  std::string prefix_;
};

PackedMatrix load_qkv(const Reader& r, const std::string& base, std::size_t hidden) {
  std::vector<float> weight, bias;
  weight.reserve(3 * hidden * hidden);
  bias.reserve(3 * hidden);
  for (const char* part : {"query", "key", "value"}) {
    const auto w = r.f32(base + part + ".weight", {hidden, hidden});
    const auto b = r.f32(base + part + ".bias", {hidden});
    weight.insert(weight.end(), w.begin(), w.end());
    bias.insert(bias.end(), b.begin(), b.end());
  }
  return PackedMatrix(weight, bias, 3 * hidden, hidden);
}

LayerWeights load_layer(const Reader& r, const BertConfig& c, std::size_t index) {
  const std::string base = "encoder.layer." + std::to_string(index) + ".";
  const std::size_t h = c.hidden_size;
  LayerWeights l;
  l.qkv = load_qkv(r, base + "attention.self.", h);
  l.attn_out = r.linear(base + "attention.output.dense", h, h);
  l.attn_ln = r.layer_norm(base + "attention.output.LayerNorm", h);
  l.ffn_up = r.linear(base + "intermediate.dense", c.intermediate_size, h);
  l.ffn_down = r.linear(base + "output.dense", h, c.intermediate_size);
  l.out_ln = r.layer_norm(base + "output.LayerNorm", h);
  return l;
}

}  // namespace

BertWeights load_bert_weights(const std::filesystem::path& safetensors, const BertConfig& c) {
  const Reader r(safetensors);
  BertWeights w;
  const std::size_t h = c.hidden_size;
  w.word = r.buffer("embeddings.word_embeddings.weight", {c.vocab_size, h});
  w.position = r.buffer("embeddings.position_embeddings.weight", {c.max_position_embeddings, h});
  w.token_type = r.buffer("embeddings.token_type_embeddings.weight", {c.type_vocab_size, h});
  w.embedding_ln = r.layer_norm("embeddings.LayerNorm", h);
  w.layers.reserve(c.num_layers);
  for (std::size_t i = 0; i < c.num_layers; ++i) w.layers.push_back(load_layer(r, c, i));
  return w;
}

}  // namespace akidb::embed::native
