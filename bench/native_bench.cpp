// akidb-native-bench: the native engine against ONNX Runtime (OnnxProvider,
// variant "opt") in the same process, same thread count. Both sides are timed
// text in -> normalized vectors out: the native side includes tokenization,
// mean pooling and L2 normalization, like OnnxProvider::embed_batch.
//
//   akidb-native-bench --model DIR --stsb stsb-en-test.csv [--threads 2]
//                      [--variant bf16] [--baseline native-fp32]
//
// --variant picks the native engine's variant; --baseline native-fp32 puts
// the native fp32 engine on the right-hand side instead of ORT (the bf16
// variant against fp32 in one run).
//
// DIR must hold model.safetensors + config.json (native) and model.opt.onnx
// (ORT), i.e. a directory written by the current prepare_model.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "akidb/embed/native_engine.hpp"
#include "akidb/embed/onnx_provider.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "cli/flop_probe.hpp"
#include "cli/sts_data.hpp"

namespace {

using namespace akidb::embed;
using Clock = std::chrono::steady_clock;

// Tokenize + run + mean pool + normalize, reusing its buffers.
class NativeEmbedder {
 public:
  NativeEmbedder(NativeEngine& engine, const Tokenizer& tokenizer)
      : engine_(engine), tokenizer_(tokenizer) {}

  std::size_t embed(const std::vector<std::string>& texts, std::size_t begin, std::size_t end) {
    ids_.clear();
    types_.clear();
    offsets_.assign(1, 0);
    for (std::size_t i = begin; i < end; ++i) {
      tokenizer_.encode(texts[i], encoding_);
      ids_.insert(ids_.end(), encoding_.ids.begin(), encoding_.ids.end());
      types_.insert(types_.end(), encoding_.type_ids.begin(), encoding_.type_ids.end());
      offsets_.push_back(static_cast<std::uint32_t>(ids_.size()));
    }
    const std::size_t dim = engine_.capabilities().hidden_size;
    hidden_.resize(ids_.size() * dim);
    run_split(dim);
    pool(dim);
    return ids_.size();
  }
  const std::vector<float>& vectors() const { return vectors_; }

 private:
  // As the pipeline does: runs of whole sequences of at most max_batch_tokens.
  void run_split(std::size_t dim) {
    const std::size_t limit = engine_.capabilities().max_batch_tokens;
    const std::size_t n = offsets_.size() - 1;
    for (std::size_t s = 0; s < n;) {
      std::size_t e = s + 1;
      while (e < n && offsets_[e + 1] - offsets_[s] <= limit) ++e;
      sub_offsets_.clear();
      for (std::size_t i = s; i <= e; ++i) sub_offsets_.push_back(offsets_[i] - offsets_[s]);
      const std::size_t first = offsets_[s], count = offsets_[e] - first;
      engine_.run({std::span(ids_).subspan(first, count), std::span(types_).subspan(first, count),
                   sub_offsets_},
                  std::span(hidden_).subspan(first * dim, count * dim));
      s = e;
    }
  }

  void pool(std::size_t dim) {
    const std::size_t n = offsets_.size() - 1;
    vectors_.assign(n * dim, 0.0f);
    for (std::size_t s = 0; s < n; ++s) {
      float* v = vectors_.data() + s * dim;
      for (std::size_t t = offsets_[s]; t < offsets_[s + 1]; ++t)
        for (std::size_t d = 0; d < dim; ++d) v[d] += hidden_[t * dim + d];
      float norm = 0;
      for (std::size_t d = 0; d < dim; ++d) norm += v[d] * v[d];
      const float inv = norm > 0 ? 1.0f / std::sqrt(norm) : 0.0f;
      for (std::size_t d = 0; d < dim; ++d) v[d] *= inv;
    }
  }

  NativeEngine& engine_;
  const Tokenizer& tokenizer_;
  Encoding encoding_;
  std::vector<std::int32_t> ids_, types_;
  std::vector<std::uint32_t> offsets_, sub_offsets_;
  std::vector<float> hidden_, vectors_;
};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// This process's CPU time in ms (all threads). On an oversubscribed host it
// counts only the time we actually ran: with --threads 1 (no spinning pool
// on either side) it is the load-robust cost measure.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

struct Percentiles {
  double p50 = 0, p95 = 0, cpu_p50 = 0;
};

template <class Fn>
Percentiles latency(Fn&& fn, int iterations) {
  for (int i = 0; i < 10; ++i) fn();
  std::vector<double> ms, cpu;
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = Clock::now();
    const double c0 = cpu_ms();
    fn();
    cpu.push_back(cpu_ms() - c0);
    ms.push_back(ms_since(t0));
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  const auto at = [](const std::vector<double>& v, double q) {
    return v[static_cast<std::size_t>(q * double(v.size() - 1))];
  };
  return {at(ms, 0.50), at(ms, 0.95), at(cpu, 0.50)};
}

struct Rate {
  double wall = 0, cpu = 0;  // sentences per wall second / per CPU second
};

// Sentences per second embedding `texts` in batches of `batch`.
template <class Fn>
Rate throughput(Fn&& embed_range, const std::vector<std::string>& texts, std::size_t batch) {
  embed_range(0, std::min(batch, texts.size()));
  const auto t0 = Clock::now();
  const double c0 = cpu_ms();
  for (std::size_t b = 0; b < texts.size(); b += batch)
    embed_range(b, std::min(texts.size(), b + batch));
  const double n = double(texts.size());
  return {n / (ms_since(t0) / 1000.0), n / ((cpu_ms() - c0) / 1000.0)};
}

// Multiply-adds x 2 of one encoder pass over these token counts.
double gflop(const std::vector<std::size_t>& lengths) {
  const double h = 384, inter = 1536, layers = 6;
  double flops = 0;
  for (const auto len : lengths) {
    const double l = double(len);
    flops += layers * (2 * l * (4 * h * h + 2 * h * inter) + 4 * l * l * h);
  }
  return flops / 1e9;
}

std::string text_of_tokens(const Tokenizer& tok, const std::vector<std::string>& pool,
                           std::size_t tokens) {
  for (const auto& t : pool)
    if (tok.encode(t).ids.size() == tokens) return t;
  return pool.front();
}

// Embeds texts[begin, end).
using EmbedFn = std::function<void(const std::vector<std::string>&, std::size_t, std::size_t)>;

struct Engines {
  const Tokenizer& tokenizer;
  NativeEmbedder& native;
  EmbedFn baseline;  // ORT, or the native fp32 engine
};

void report_latency(const Engines& e, const std::vector<std::string>& texts, int iterations) {
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "token ";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"13 tokens", {text_of_tokens(e.tokenizer, texts, 13)}}, {"256 tokens", {long_text}}};
  std::printf(
      "\nlatency, batch 1 (ms)   native P50    P95  cpuP50 |   base P50    P95  cpuP50 |"
      " ratio base/native: P95 cpuP50\n");
  for (const auto& [name, one] : cases) {
    const int iters = name == "13 tokens" ? iterations : std::max(20, iterations / 4);
    const auto n = latency([&] { e.native.embed(one, 0, 1); }, iters);
    const auto o = latency([&] { e.baseline(one, 0, 1); }, iters);
    std::printf("%-20s %10.3f %6.3f %7.3f | %10.3f %6.3f %7.3f | %5.2fx %5.2fx\n", name.c_str(),
                n.p50, n.p95, n.cpu_p50, o.p50, o.p95, o.cpu_p50, o.p95 / n.p95,
                o.cpu_p50 / n.cpu_p50);
  }
}

struct Peak {
  double wall = 0;  // GFLOP/s
  double cpu = 0;   // GFLOP per CPU-second: the load-robust yardstick
};

// The machine's FMA peak now (shared VMs: it moves with the load).
Peak measure_peak(std::size_t threads) {
  const auto wall0 = Clock::now();
  const double cpu0 = cpu_ms();
  Peak p;
  p.wall = cli::measure_peak_gflops(static_cast<int>(threads), 0.5);
  p.cpu = p.wall * ms_since(wall0) / (cpu_ms() - cpu0);
  std::printf("\nFMA peak, %zu threads, measured now: %.0f GFLOP/s wall, %.0f GFLOP per CPU-s\n",
              threads, p.wall, p.cpu);
  return p;
}

void report_throughput(const Engines& e, const std::vector<std::string>& texts, const Peak& peak) {
  std::vector<std::size_t> lengths;
  for (const auto& t : texts) lengths.push_back(e.tokenizer.encode(t).ids.size());
  const double work = gflop(lengths) / double(texts.size());  // per sentence
  std::printf("\nthroughput, %zu STS-B sentences\n%-10s %9s %8s %6s %9s | %9s %9s | %s\n",
              texts.size(), "", "native/s", "GFLOP/s", "%peak", "/cpu-s", "base/s", "/cpu-s",
              "ratio native/base: wall cpu | native GFLOP/cpu-s (%)");
  for (const std::size_t batch : {1u, 8u, 32u, 128u}) {
    const Rate n = throughput(
        [&](std::size_t b, std::size_t end) { e.native.embed(texts, b, end); }, texts, batch);
    const Rate o = throughput([&](std::size_t b, std::size_t end) { e.baseline(texts, b, end); },
                              texts, batch);
    std::printf(
        "batch %-4zu %9.0f %8.1f %5.0f%% %9.0f | %9.0f %9.0f | %5.2fx %5.2fx | %6.1f (%3.0f%%)\n",
        batch, n.wall, n.wall * work, 100.0 * n.wall * work / peak.wall, n.cpu, o.wall, o.cpu,
        n.wall / o.wall, n.cpu / o.cpu, n.cpu * work, 100.0 * n.cpu * work / peak.cpu);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"native engine vs ONNX Runtime"};
  std::string model, stsb;
  std::size_t threads = 2, sentences = 1024, max_tokens = NativeEngineOptions{}.max_batch_tokens;
  int iterations = 200;
  bool skip_latency = false;
  std::string variant = "fp32", baseline = "ort";
  app.add_option("--model", model, "model dir (safetensors + config.json + model.opt.onnx)")
      ->required();
  app.add_option("--stsb", stsb, "stsb-en-test.csv")->required();
  app.add_option("--threads", threads, "threads for both engines");
  app.add_option("--sentences", sentences, "STS-B sentences per throughput run");
  app.add_option("--native-max-tokens", max_tokens,
                 "native tokens per run() (the pipeline's split)");
  app.add_option("--iterations", iterations, "latency samples (256 tokens: a quarter)");
  app.add_flag("--skip-latency", skip_latency, "throughput only");
  app.add_option("--variant", variant, "the native engine's variant: fp32 or bf16");
  app.add_option("--baseline", baseline, "right-hand side: ort (variant opt) or native-fp32")
      ->check(CLI::IsMember({"ort", "native-fp32"}));
  CLI11_PARSE(app, argc, argv);
  try {
    auto texts = cli::unique_sentences(cli::load_sts(stsb));
    if (texts.size() > sentences) texts.resize(sentences);
    const auto tokenizer = Tokenizer::from_file(std::filesystem::path(model) / "tokenizer.json");
    NativeEngineOptions nopt;
    nopt.model_dir = model;
    nopt.threads = threads;
    nopt.max_batch_tokens = max_tokens;
    nopt.variant = "fp32";
    std::unique_ptr<NativeEngine> fp32_engine;
    std::unique_ptr<NativeEmbedder> fp32;
    std::unique_ptr<OnnxProvider> ort;
    EmbedFn base;
    if (baseline == "native-fp32") {
      fp32_engine = std::make_unique<NativeEngine>(nopt);
      fp32 = std::make_unique<NativeEmbedder>(*fp32_engine, tokenizer);
      base = [&](const std::vector<std::string>& t, std::size_t b, std::size_t end) {
        fp32->embed(t, b, end);
      };
    } else {
      OnnxProviderOptions oopt;
      oopt.model_dir = model;
      oopt.variant = "opt";
      oopt.intra_op_threads = static_cast<int>(threads);
      ort = std::make_unique<OnnxProvider>(oopt);
      base = [&](const std::vector<std::string>& t, std::size_t b, std::size_t end) {
        ort->embed_batch(EmbedRequest::from_texts({t.begin() + static_cast<std::ptrdiff_t>(b),
                                                   t.begin() + static_cast<std::ptrdiff_t>(end)}));
      };
    }
    nopt.variant = variant;
    NativeEngine engine(nopt);
    NativeEmbedder native(engine, tokenizer);
    std::printf(
        "native: %s, kernels %s, threads %zu, max %zu tokens per run; baseline: %s, "
        "threads %zu\n",
        engine.capabilities().execution_provider.c_str(), engine.isa().c_str(), threads, max_tokens,
        baseline == "ort" ? "ORT variant opt" : "native fp32", threads);
    const Engines engines{tokenizer, native, base};
    if (!skip_latency) report_latency(engines, texts, iterations);
    report_throughput(engines, texts, measure_peak(threads));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "akidb-native-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
