// akidb-native-bench: the native engine against ONNX Runtime (OnnxProvider,
// variant "opt") in the same process, same thread count. Both sides are timed
// text in -> normalized vectors out: the native side includes tokenization,
// mean pooling and L2 normalization, like OnnxProvider::embed_batch.
//
//   akidb-native-bench --model DIR --stsb stsb-en-test.csv [--threads 2] [--int8]
//                      [--variant bf16] [--baseline native-fp32]
//
// --int8 adds the native int8 variant and ORT's int8 graph to the same run.
// --variant picks the first side's native variant (fp32, bf16, int8);
// --baseline native-fp32 puts the native fp32 engine in ORT's place (e.g. the
// bf16 variant against fp32 in one run).
// DIR must hold model.safetensors + config.json (native) and model.opt.onnx
// (ORT), i.e. a directory written by the current prepare_model.
//
// Fairness: both engines live in this process, so before every timed phase
// the driver waits until the process is idle (cli::wait_until_idle): the
// other engine's threads (ORT's spinning intra-op pool, the native pool's
// spin-then-sleep workers) have gone to sleep and cannot take a core from
// the engine being timed. Phases alternate native / ORT; --ort-first swaps
// the order.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "akidb/embed/native_engine.hpp"
#include "akidb/embed/onnx_provider.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "cli/flop_probe.hpp"
#include "cli/native_profile_report.hpp"
#include "cli/quiesce.hpp"
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
// counts only the time we actually ran. Every phase starts from an idle
// process, so it is the timed engine's own CPU (its spinning included).
double cpu_ms() { return cli::process_cpu_ms(); }

// The largest CPU ms a 10 ms idle window still saw before a phase: ~0 shows
// that no thread of the other engine was running when this one was timed.
double g_worst_idle_ms = 0;

void settle() { g_worst_idle_ms = std::max(g_worst_idle_ms, cli::wait_until_idle()); }

struct Percentiles {
  double p50 = 0, p95 = 0, cpu_p50 = 0;
};

template <class Fn>
Percentiles latency(Fn&& fn, int iterations) {
  settle();
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
  settle();
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

// One engine as the bench drives it: embed texts [begin, end).
struct Side {
  std::string name;
  std::function<void(const std::vector<std::string>&, std::size_t, std::size_t)> embed;
};

// The sides in the run: the native engine (--variant) and the baseline (ORT's
// fused graph, or native fp32) always; native int8 and ORT's int8 graph with
// --int8. Ratios compare sides by index.
struct Sides {
  std::vector<Side> all;
  bool reversed = false;  // --ort-first: time the sides last to first in every phase
  static constexpr std::size_t kNative = 0, kOrt = 1, kNativeInt8 = 2, kOrtInt8 = 3;
  bool int8() const { return all.size() > kNativeInt8; }
  // Runs fn(side) for every side in timing order; results by side index.
  template <class Fn>
  auto each(Fn&& fn) const {
    std::vector<decltype(fn(all.front()))> out(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) {
      const std::size_t k = reversed ? all.size() - 1 - i : i;
      out[k] = fn(all[k]);
    }
    return out;
  }
};

// The first native side's engine (--variant), for its per-step profile.
struct Profiled {
  const Tokenizer& tokenizer;
  NativeEngine& engine;
  NativeEmbedder& native;
};

Side native_side(std::string name, NativeEmbedder& e) {
  return {std::move(name), [&e](const std::vector<std::string>& texts, std::size_t b,
                                std::size_t end) { e.embed(texts, b, end); }};
}

Side ort_side(std::string name, OnnxProvider& p) {
  return {
      std::move(name), [&p](const std::vector<std::string>& texts, std::size_t b, std::size_t end) {
        p.embed_batch(EmbedRequest::from_texts({texts.begin() + static_cast<std::ptrdiff_t>(b),
                                                texts.begin() + static_cast<std::ptrdiff_t>(end)}));
      }};
}

void print_ratio(const char* label, double x) { std::printf("  %s %5.2fx", label, x); }

std::string base_label(const Sides& sides) {
  return sides.all[Sides::kOrt].name + "/" + sides.all[Sides::kNative].name;
}

void report_latency(const Tokenizer& tokenizer, const Sides& sides,
                    const std::vector<std::string>& texts, int iterations) {
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "token ";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"13 tokens", {text_of_tokens(tokenizer, texts, 13)}}, {"256 tokens", {long_text}}};
  std::printf("\nlatency, batch 1 (ms): P50 / P95 / CPU P50 per side\n");
  for (const auto& [name, one] : cases) {
    const int iters = name == "13 tokens" ? iterations : std::max(20, iterations / 4);
    const auto p = sides.each(
        [&](const Side& side) { return latency([&] { side.embed(one, 0, 1); }, iters); });
    std::printf("%-10s", name.c_str());
    for (std::size_t i = 0; i < p.size(); ++i)
      std::printf(" | %s %.3f / %.3f / %.3f", sides.all[i].name.c_str(), p[i].p50, p[i].p95,
                  p[i].cpu_p50);
    std::printf("\n%-10s P95 ratios:", "");
    print_ratio(base_label(sides).c_str(), p[Sides::kOrt].p95 / p[Sides::kNative].p95);
    if (sides.int8()) {
      print_ratio((sides.all[Sides::kNative].name + "/native-int8").c_str(),
                  p[Sides::kNative].p95 / p[Sides::kNativeInt8].p95);
      print_ratio("ORT int8/native int8", p[Sides::kOrtInt8].p95 / p[Sides::kNativeInt8].p95);
    }
    std::printf("\n");
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

// DRAM read bandwidth now (GB/s): `threads` threads each summing its part
// of a 256 MiB buffer (far beyond the L3), best of three passes. At batch 1
// the encoder streams all its weights once per pass, so weight bytes / this
// bandwidth is a floor on a short sentence's latency when they do not fit
// in the L3.
double measure_read_gbps(std::size_t threads) {
  std::vector<std::uint64_t> buf(std::size_t{32} << 20, 1);
  std::vector<std::uint64_t> sums(threads * 8);
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto t0 = Clock::now();
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        const std::size_t lo = buf.size() * t / threads, hi = buf.size() * (t + 1) / threads;
        std::uint64_t acc[8] = {};
        for (std::size_t i = lo; i < hi; i += 8)
          for (std::size_t j = 0; j < 8; ++j) acc[j] += buf[i + j];
        for (std::size_t j = 0; j < 8; ++j) sums[t * 8 + j] = acc[j];
      });
    }
    for (auto& w : workers) w.join();
    best = std::max(best, double(buf.size() * 8) / (ms_since(t0) / 1e3) / 1e9);
  }
  return best + double(sums[0] & 1) * 1e-12;  // keeps the sums alive
}

void report_throughput(const Tokenizer& tokenizer, const Sides& sides,
                       const std::vector<std::string>& texts, const Peak& peak) {
  std::vector<std::size_t> lengths;
  for (const auto& t : texts) lengths.push_back(tokenizer.encode(t).ids.size());
  const double work = gflop(lengths) / double(texts.size());  // per sentence
  std::printf(
      "\nthroughput, %zu STS-B sentences: sentences/s wall (per CPU-s) per side; the first native "
      "side's "
      "GFLOP/s and %% of the FMA peak (wall, and per CPU-s)\n",
      texts.size());
  for (const std::size_t batch : {1u, 8u, 32u, 128u}) {
    const auto r = sides.each([&](const Side& side) {
      return throughput([&](std::size_t b, std::size_t end) { side.embed(texts, b, end); }, texts,
                        batch);
    });
    std::printf("batch %-4zu", batch);
    for (std::size_t i = 0; i < r.size(); ++i)
      std::printf(" | %s %6.0f (%6.0f)", sides.all[i].name.c_str(), r[i].wall, r[i].cpu);
    const Rate& n = r[Sides::kNative];
    std::printf(" | %.1f GFLOP/s %.0f%% (%.0f%%)\n%-10s ratios wall (cpu):", n.wall * work,
                100.0 * n.wall * work / peak.wall, 100.0 * n.cpu * work / peak.cpu, "");
    const auto ratio = [&](const char* label, std::size_t a, std::size_t b) {
      std::printf("  %s %5.2fx (%5.2fx)", label, r[a].wall / r[b].wall, r[a].cpu / r[b].cpu);
    };
    ratio((sides.all[Sides::kNative].name + "/" + sides.all[Sides::kOrt].name).c_str(),
          Sides::kNative, Sides::kOrt);
    if (sides.int8()) {
      ratio(("native-int8/" + sides.all[Sides::kNative].name).c_str(), Sides::kNativeInt8,
            Sides::kNative);
      ratio("native int8/ORT int8", Sides::kNativeInt8, Sides::kOrtInt8);
    }
    std::printf("\n");
  }
}

// The native engine's per-step profile of a 13-token sentence, a 256-token
// text (batch 1) and the sentences in batches of 32 (a separate, untimed-above
// pass: profiling reads a clock per step).
void report_profile(const Profiled& e, const std::vector<std::string>& texts, int iterations,
                    const Peak& peak) {
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "token ";
  const std::vector<std::string> short_one{text_of_tokens(e.tokenizer, texts, 13)},
      long_one{long_text};
  const auto profiled = [&](const std::string& title, int passes, auto&& fn) {
    settle();
    for (int i = 0; i < 5; ++i) fn();
    e.engine.set_profiling(true);
    const auto t0 = Clock::now();
    for (int i = 0; i < passes; ++i) fn();
    const double wall = ms_since(t0) / 1e3;
    const auto table = cli::native_profile_json(e.engine.profile(), {wall, peak.wall, {}});
    e.engine.set_profiling(false);
    cli::print_native_profile(title, table);
  };
  profiled("native profile, 13 tokens, batch 1", iterations,
           [&] { e.native.embed(short_one, 0, 1); });
  profiled("native profile, 256 tokens, batch 1", std::max(20, iterations / 4),
           [&] { e.native.embed(long_one, 0, 1); });
  profiled("native profile, batch 32", 1, [&] {
    for (std::size_t b = 0; b < texts.size(); b += 32)
      e.native.embed(texts, b, std::min(texts.size(), b + 32));
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"native engine vs ONNX Runtime"};
  std::string model, stsb;
  std::size_t threads = 2, sentences = 1024, max_tokens = NativeEngineOptions{}.max_batch_tokens;
  int iterations = 200;
  bool skip_latency = false, int8 = false, ort_first = false, profile = false;
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
  app.add_flag("--int8", int8,
               "also the native int8 variant and ORT's int8 graph (model.int8.onnx)");
  app.add_option("--variant", variant, "the first native side's variant: fp32, bf16 or int8");
  app.add_option("--baseline", baseline, "second side: ort (variant opt) or native-fp32")
      ->check(CLI::IsMember({"ort", "native-fp32"}));
  app.add_flag("--ort-first", ort_first, "time ORT before native in every phase");
  app.add_flag("--profile", profile, "also: where the native engine's time goes, per step");
  CLI11_PARSE(app, argc, argv);
  try {
    auto texts = cli::unique_sentences(cli::load_sts(stsb));
    if (texts.size() > sentences) texts.resize(sentences);
    const auto tokenizer = Tokenizer::from_file(std::filesystem::path(model) / "tokenizer.json");
    NativeEngineOptions nopt;
    nopt.model_dir = model;
    nopt.threads = threads;
    nopt.max_batch_tokens = max_tokens;
    nopt.variant = variant;
    NativeEngine engine(nopt);
    NativeEmbedder native(engine, tokenizer);
    OnnxProviderOptions oopt;
    oopt.model_dir = model;
    oopt.variant = "opt";
    oopt.intra_op_threads = static_cast<int>(threads);
    std::optional<OnnxProvider> ort;
    std::optional<NativeEngine> engine_fp32;
    std::optional<NativeEmbedder> native_fp32;
    Sides sides{{native_side(variant == "fp32" ? "native" : "native-" + variant, native)}};
    if (baseline == "native-fp32") {
      nopt.variant = "fp32";
      engine_fp32.emplace(nopt);
      native_fp32.emplace(*engine_fp32, tokenizer);
      sides.all.push_back(native_side("native-fp32", *native_fp32));
    } else {
      ort.emplace(oopt);
      sides.all.push_back(ort_side("ORT", *ort));
    }
    std::optional<NativeEngine> engine_int8;
    std::optional<NativeEmbedder> native_int8;
    std::optional<OnnxProvider> ort_int8;
    if (int8) {
      nopt.variant = "int8";
      engine_int8.emplace(nopt);
      native_int8.emplace(*engine_int8, tokenizer);
      oopt.variant = "int8";
      ort_int8.emplace(oopt);
      sides.all.push_back(native_side("native-int8", *native_int8));
      sides.all.push_back(ort_side("ORT-int8", *ort_int8));
    }
    std::printf(
        "native: %s, kernels %s%s%s, threads %zu, max %zu tokens per run; baseline %s; ORT "
        "intra-op threads %zu\n",
        engine.capabilities().execution_provider.c_str(), engine.isa().c_str(),
        int8 ? ", int8: " : "", int8 ? engine_int8->isa().c_str() : "", threads, max_tokens,
        baseline.c_str(), threads);
    sides.reversed = ort_first;
    if (!skip_latency) report_latency(tokenizer, sides, texts, iterations);
    settle();
    const Peak peak = measure_peak(threads);
    const double gbps = measure_read_gbps(threads);
    // all-MiniLM-L6-v2's GEMM weights (as gflop() below): 6 x (4 h^2 + 2 h i) floats.
    const double weight_mb = 6.0 * (4 * 384.0 * 384 + 2 * 384.0 * 1536) * 4 / 1e6;
    std::printf(
        "memory read bandwidth now: %.1f GB/s; encoder weights %.1f MB, streamed once per "
        "batch-1 pass: >= %.2f ms if they are not cached\n",
        gbps, weight_mb, weight_mb / 1e3 / gbps * 1e3);
    report_throughput(tokenizer, sides, texts, peak);
    if (profile) report_profile({tokenizer, engine, native}, texts, iterations, peak);
    std::printf("\nidle check: at most %.2f ms of CPU in a 10 ms window before a timed phase\n",
                g_worst_idle_ms);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "akidb-native-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
