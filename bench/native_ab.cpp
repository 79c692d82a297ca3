// akidb-native-ab: the native encoder's scheduling settings (Schedule in
// src/engines/native/parallel_ops.hpp) against each other in ONE process,
// interleaved pass by pass, so that a shared, noisy host slows every setting
// alike. Reports each setting's median and P95 pass time and the median of
// its per-round ratio to the first setting ("before"), and checks that every
// setting gives bit-identical hidden states.
//
//   akidb-native-ab --model DIR [--tokens 13] [--batch 1] [--rounds 300] [--threads 2]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "akidb/embed/tokenizer.hpp"
#include "engines/native/bert_encoder.hpp"
#include "engines/native/cpu_dispatch.hpp"

namespace {

using namespace akidb::embed;
using namespace akidb::embed::native;
using Clock = std::chrono::steady_clock;

struct Setting {
  const char* name;
  Schedule schedule;
};

double at(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * double(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"native encoder scheduling settings, interleaved in one process"};
  std::string model;
  std::size_t tokens = 13, batch = 1, rounds = 300, threads = 2;
  app.add_option("--model", model, "model dir (model.safetensors + config.json)")->required();
  app.add_option("--tokens", tokens, "tokens per sequence ([CLS] and [SEP] included)");
  app.add_option("--batch", batch, "sequences per pass");
  app.add_option("--rounds", rounds, "passes per setting");
  app.add_option("--threads", threads, "pool threads");
  CLI11_PARSE(app, argc, argv);
  try {
    const std::filesystem::path dir(model);
    const auto config = load_bert_config(dir / "config.json");
    BertEncoder encoder(config, load_bert_weights(dir / "model.safetensors", config));
    const auto tokenizer = Tokenizer::from_file(dir / "tokenizer.json");
    const auto word = tokenizer.encode("token").ids.at(1);
    std::vector<std::int32_t> ids, types;
    std::vector<std::uint32_t> offsets{0};
    for (std::size_t s = 0; s < batch; ++s) {
      ids.push_back(tokenizer.cls_id());
      for (std::size_t t = 2; t < tokens; ++t) ids.push_back(word);
      ids.push_back(tokenizer.sep_id());
      offsets.push_back(static_cast<std::uint32_t>(ids.size()));
    }
    types.assign(ids.size(), 0);
    const PackedBatch packed{ids, types, offsets};
    ThreadPool pool(threads);
    const auto& kernels = select_kernels(Isa::Auto);
    const std::vector<Setting> settings = {
        {"before", {4, 0}},
        {"gemm shares 16", {16, 0}},
        {"serial LayerNorm", {4, 16}},
        {"after (defaults)", Schedule{}},
    };
    std::vector<std::vector<float>> out(settings.size(),
                                        std::vector<float>(ids.size() * config.hidden_size));
    std::vector<std::vector<double>> ms(settings.size());
    for (std::size_t r = 0; r < rounds + 5; ++r) {
      for (std::size_t j = 0; j < settings.size(); ++j) {
        const std::size_t i = (r + j) % settings.size();  // rotate who goes first
        const Compute cx{pool, kernels, nullptr, nullptr, settings[i].schedule};
        const auto t0 = Clock::now();
        encoder.forward(cx, packed, out[i]);
        const double t = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (r >= 5) ms[i].push_back(t);  // 5 warm-up rounds
      }
    }
    std::printf("%zu x %zu tokens, %zu threads, %s kernels, %zu rounds interleaved\n", batch,
                tokens, threads, kernels.name, rounds);
    std::printf("%-18s %9s %9s %14s %s\n", "setting", "P50 ms", "P95 ms", "ratio to first",
                "output");
    for (std::size_t i = 0; i < settings.size(); ++i) {
      std::vector<double> ratio;
      for (std::size_t r = 0; r < rounds; ++r) ratio.push_back(ms[i][r] / ms[0][r]);
      std::printf("%-18s %9.3f %9.3f %13.3fx %s\n", settings[i].name, at(ms[i], 0.5),
                  at(ms[i], 0.95), at(ratio, 0.5), out[i] == out[0] ? "bit-identical" : "DIFFERS");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "akidb-native-ab: %s\n", e.what());
    return 1;
  }
  return 0;
}
