#pragma once
// Shared by the native engine's tests: the model directory, packed batches,
// mean pooling and the sentence-transformers golden vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "akidb/embed/native_engine.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "test_support.hpp"

namespace akidb::embed::native_test {

inline std::filesystem::path native_model_dir() {
  const char* env = std::getenv("AKIDB_NATIVE_MODEL_DIR");
  return env ? std::filesystem::path(env) : test::model_dir();
}

#define REQUIRE_NATIVE_MODEL()                                            \
  if (!std::filesystem::exists(native_model_dir() / "model.safetensors")) \
  GTEST_SKIP() << native_model_dir()                                      \
               << " has no model.safetensors (re-run prepare_model "      \
                  "or set AKIDB_NATIVE_MODEL_DIR)"

struct Packed {
  std::vector<std::int32_t> ids, types;
  std::vector<std::uint32_t> offsets{0};
  void add(const Encoding& e) {
    ids.insert(ids.end(), e.ids.begin(), e.ids.end());
    types.insert(types.end(), e.type_ids.begin(), e.type_ids.end());
    offsets.push_back(static_cast<std::uint32_t>(ids.size()));
  }
  SequenceBatch batch() const { return {ids, types, offsets}; }
};

inline std::vector<float> run(NativeEngine& engine, const Packed& p) {
  std::vector<float> hidden(p.ids.size() * engine.capabilities().hidden_size);
  engine.run(p.batch(), hidden);
  return hidden;
}

// Mean pool + L2 normalize of sequence s.
inline std::vector<float> pooled(const std::vector<float>& hidden, const Packed& p, std::size_t s,
                                 std::size_t dim) {
  std::vector<double> sum(dim, 0.0);
  for (std::size_t t = p.offsets[s]; t < p.offsets[s + 1]; ++t)
    for (std::size_t d = 0; d < dim; ++d) sum[d] += hidden[t * dim + d];
  double norm = 0;
  for (auto& v : sum) {
    v /= double(p.offsets[s + 1] - p.offsets[s]);
    norm += v * v;
  }
  std::vector<float> out(dim);
  for (std::size_t d = 0; d < dim; ++d) out[d] = float(sum[d] / std::sqrt(norm));
  return out;
}

struct Golden {
  std::vector<Encoding> encodings;
  std::vector<float> vectors;
  std::size_t dimension = 0;
};

inline const Golden& golden() {
  static const Golden g = [] {
    Golden out;
    const auto dir = test::test_data() / "golden";
    out.dimension = test::read_json(dir / "meta.json").at("dimension").get<std::size_t>();
    const auto tokenizer = Tokenizer::from_file(test::model_dir() / "tokenizer.json");
    for (const auto& text : test::golden_texts()) out.encodings.push_back(tokenizer.encode(text));
    out.vectors.resize(out.encodings.size() * out.dimension);
    std::ifstream in(dir / "vectors.f32", std::ios::binary);
    in.read(reinterpret_cast<char*>(out.vectors.data()),
            static_cast<std::streamsize>(out.vectors.size() * sizeof(float)));
    return out;
  }();
  return g;
}

}  // namespace akidb::embed::native_test
