// `akidb-embed bench`: latency with a per-stage breakdown, throughput against
// batch size, efficiency against a measured FLOP peak, accuracy of the chosen
// variant, and (with --profile) the operators ONNX Runtime actually ran or
// the native engine's time per encoder step. --engines native,onnx runs the
// engines side by side in one run, each timed phase from an idle process.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "akidb/embed/error.hpp"
#include "akidb/embed/native_engine.hpp"
#include "cli/bench_stats.hpp"
#include "cli/common.hpp"
#include "cli/data_files.hpp"
#include "cli/flop_probe.hpp"
#include "cli/native_profile_report.hpp"
#include "cli/quiesce.hpp"
#include "cli/sts_data.hpp"

namespace akidb::embed::cli {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct BenchOptions {
  ModelOptions model;
  std::string padding = "dynamic";
  std::string optimization = "all";
  bool no_sort = false;
  bool no_spinning = false;
  bool profile = false;
  std::vector<std::string> engines;  // --engines: side by side; empty: the one --engine
  std::string profile_dir;           // empty: a fresh temporary directory, removed afterwards
  bool quick = false;
  std::string sts;     // empty: the installed (or source tree's) stsb-en-test.csv
  std::string golden;  // empty: the installed (or source tree's) golden vectors
  std::vector<std::size_t> batch_sizes{1, 8, 32, 64, 128, 256};
  std::size_t iterations = 200;
  std::size_t sentences = 1024;
  std::set<std::string> stages{"latency", "throughput", "accuracy"};
  std::string json_out;
};

GraphOptimization parse_optimization(const std::string& name) {
  if (name == "disabled") return GraphOptimization::Disabled;
  if (name == "basic") return GraphOptimization::Basic;
  if (name == "extended") return GraphOptimization::Extended;
  return GraphOptimization::All;
}

// Where ONNX Runtime writes the --profile JSON: the chosen --profile-dir
// (created if needed, the profile kept), or a fresh temporary directory that
// is removed with its contents however the bench ends.
class ProfileDir {
 public:
  explicit ProfileDir(const std::string& chosen) {
    if (!chosen.empty()) {
      path_ = chosen;
      std::error_code ec;
      std::filesystem::create_directories(path_, ec);
      if (ec) throw invalid_request("--profile-dir " + chosen + ": " + ec.message());
      return;
    }
    std::string templ =
        (std::filesystem::temp_directory_path() / "akidb-bench-profile-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) {
      throw Error(ErrorCode::Internal, "cannot create a temporary profile directory " + templ +
                                           ": " + std::strerror(errno));
    }
    path_ = templ;
    owned_ = true;
  }
  ~ProfileDir() {
    std::error_code ec;
    if (owned_) std::filesystem::remove_all(path_, ec);
  }
  ProfileDir(const ProfileDir&) = delete;
  ProfileDir& operator=(const ProfileDir&) = delete;

  std::string prefix() const { return (path_ / "akidb-bench-profile").string(); }
  bool keep() const { return !owned_; }

 private:
  std::filesystem::path path_;
  bool owned_ = false;
};

// The flag's value, else the first of the installed/source-tree candidates
// that exists; neither: an error naming the flag and the places looked at.
std::filesystem::path resolve_data(const std::string& flag_value, const char* flag,
                                   const char* what, const std::filesystem::path& installed,
                                   const std::filesystem::path& source) {
  if (!flag_value.empty()) return flag_value;
  const auto candidates = data_candidates(installed, source);
  if (auto found = find_data(candidates)) return *found;
  std::string looked;
  for (const auto& c : candidates) looked += (looked.empty() ? "" : ", ") + c.string();
  throw invalid_request(std::string("no ") + what + " found: pass " + flag +
                        " (looked in: " + (looked.empty() ? "nowhere" : looked) + ")");
}

std::filesystem::path sts_path(const BenchOptions& o) {
  return resolve_data(o.sts, "--sts FILE", "STS benchmark CSV", "stsb/stsb-en-test.csv",
                      "data/stsb/stsb-en-test.csv");
}

ProviderOptions bench_provider_options(const BenchOptions& o, const ProfileDir* profile) {
  auto opts = provider_options(o.model);
  opts.fixed_padding = o.padding == "dynamic" ? 0 : std::stoul(o.padding);
  opts.pipeline.sort_by_length = !o.no_sort;
  opts.allow_spinning = !o.no_spinning;
  opts.optimization = parse_optimization(o.optimization);
  if (profile != nullptr) opts.profile_prefix = profile->prefix();
  return opts;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- model FLOPs -----------------------------------------------------------

struct Architecture {
  double layers = 0, hidden = 0, intermediate = 0;
  bool known() const { return layers > 0; }
  // Multiply-adds x2 of the encoder for one sequence of `seq` tokens.
  double flops(double seq) const {
    return layers * (2 * seq * hidden * (4 * hidden + 2 * intermediate) + 4 * seq * seq * hidden);
  }
};

Architecture read_architecture(const std::filesystem::path& model_dir) {
  std::ifstream in(std::filesystem::path(model_dir) / "akidb.json");
  const auto j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("architecture")) return {};
  const auto& a = j["architecture"];
  const double hidden = a.value("hidden_size", 0.0);
  return {a.value("num_layers", 0.0), hidden, a.value("intermediate_size", 4 * hidden)};
}

// ---- latency ---------------------------------------------------------------

std::string text_of_tokens(const Tokenizer& tokenizer, std::size_t tokens) {
  const std::string sentence = "A man is playing a guitar on the stage tonight. ";
  std::string text;
  while (tokenizer.encode(text).tokens_before_truncation < tokens) text += sentence;
  return text;
}

json stage_json(const StageTimings& s) {
  return {{"tokenize", s.tokenize_us}, {"tensor", s.tensor_us},       {"inference", s.inference_us},
          {"pool", s.pool_us},         {"normalize", s.normalize_us}, {"total", s.total_us}};
}

json measure_latency(EmbeddingProvider& provider, const std::string& name, const std::string& text,
                     std::size_t iterations) {
  auto request = EmbedRequest::from_texts({text});
  for (int i = 0; i < 10; ++i) provider.embed_batch(request);
  std::vector<double> wall_ms;
  StageTimings sum;
  std::size_t tokens = 0;
  for (std::size_t i = 0; i < iterations; ++i) {
    const auto start = Clock::now();
    const auto r = provider.embed_batch(request);
    wall_ms.push_back(seconds_since(start) * 1e3);
    tokens = r.usage.prompt_tokens;
    const auto& s = r.usage.stages;
    sum.tokenize_us += s.tokenize_us, sum.tensor_us += s.tensor_us;
    sum.inference_us += s.inference_us, sum.pool_us += s.pool_us;
    sum.normalize_us += s.normalize_us, sum.total_us += s.total_us;
  }
  const double n = static_cast<double>(iterations);
  // Designated: StageTimings gained queue_us after tokenize_us, which shifted
  // every later stage of a positional initializer by one.
  const StageTimings mean{.tokenize_us = sum.tokenize_us / n,
                          .tensor_us = sum.tensor_us / n,
                          .inference_us = sum.inference_us / n,
                          .pool_us = sum.pool_us / n,
                          .normalize_us = sum.normalize_us / n,
                          .total_us = sum.total_us / n};
  return {{"input", name},
          {"tokens", tokens},
          {"p50_ms", percentile(wall_ms, 50)},
          {"p95_ms", percentile(wall_ms, 95)},
          {"p99_ms", percentile(wall_ms, 99)},
          {"mean_stage_us", stage_json(mean)}};
}

// ---- throughput ------------------------------------------------------------

json measure_throughput(EmbeddingProvider& provider, const std::vector<std::string>& texts,
                        std::size_t batch_size, const Architecture& arch, double peak) {
  auto run_all = [&](std::size_t& tokens, double& flops) {
    for (std::size_t begin = 0; begin < texts.size(); begin += batch_size) {
      const auto end = std::min(texts.size(), begin + batch_size);
      auto r = provider.embed_batch(
          EmbedRequest::from_texts({texts.begin() + static_cast<std::ptrdiff_t>(begin),
                                    texts.begin() + static_cast<std::ptrdiff_t>(end)}));
      tokens += r.usage.prompt_tokens;
      for (auto t : r.usage.input_tokens) flops += arch.flops(static_cast<double>(t));
    }
  };
  std::size_t tokens = 0;
  double flops = 0;
  run_all(tokens, flops);  // warm-up: sessions, arenas, workspaces
  tokens = 0, flops = 0;
  const auto start = Clock::now();
  run_all(tokens, flops);
  const double secs = seconds_since(start);
  json j = {{"batch_size", batch_size},
            {"sentences_per_s", static_cast<double>(texts.size()) / secs},
            {"tokens_per_s", static_cast<double>(tokens) / secs}};
  if (arch.known()) {
    j["gflops"] = flops / secs / 1e9;
    j["efficiency_pct"] = 100.0 * flops / secs / 1e9 / peak;
  }
  return j;
}

// ---- accuracy --------------------------------------------------------------

double dot(std::span<const float> a, std::span<const float> b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return s;
}

json golden_cosines(EmbeddingProvider& provider, const std::filesystem::path& dir) {
  std::ifstream texts_in(dir / "texts.jsonl");
  std::vector<std::string> texts;
  for (std::string line; std::getline(texts_in, line);)
    texts.push_back(json::parse(line).at("text").get<std::string>());
  if (texts.empty()) return nullptr;
  const std::size_t dim = provider.model_info().dimension;
  std::vector<float> golden(texts.size() * dim);
  std::ifstream(dir / "vectors.f32", std::ios::binary)
      .read(reinterpret_cast<char*>(golden.data()),
            static_cast<std::streamsize>(golden.size() * sizeof(float)));
  const auto r = provider.embed_batch(EmbedRequest::from_texts(texts));
  double sum = 0, worst = 1;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const double c = dot(r.embeddings.row(i), {golden.data() + i * dim, dim});
    sum += c, worst = std::min(worst, c);
  }
  return {{"texts", texts.size()},
          {"mean_cosine", sum / static_cast<double>(texts.size())},
          {"min_cosine", worst}};
}

double sts_spearman(EmbeddingProvider& provider, const std::vector<StsPair>& pairs) {
  const auto sentences = unique_sentences(pairs);
  const auto r = provider.embed_batch(EmbedRequest::from_texts(sentences));
  std::map<std::string, std::size_t> row;
  for (std::size_t i = 0; i < sentences.size(); ++i) row.emplace(sentences[i], i);
  std::vector<double> predicted, gold;
  for (const auto& p : pairs) {
    predicted.push_back(dot(r.embeddings.row(row[p.first]), r.embeddings.row(row[p.second])));
    gold.push_back(p.score);
  }
  return 100.0 * spearman(predicted, gold);
}

// ---- profile: which operators ran ------------------------------------------

json executed_ops(EmbeddingProvider& provider, const ProfileDir& dir) {
  auto* onnx = dynamic_cast<OnnxProvider*>(&provider);
  if (onnx == nullptr)
    throw invalid_request(
        "--profile reports ONNX Runtime's operators or the native engine's steps: use --engine "
        "onnx or native");
  const auto file = onnx->end_profiling();
  std::ifstream in(file);
  const auto events = json::parse(in, nullptr, false);
  std::map<std::string, int> counts;
  if (events.is_array()) {
    for (const auto& e : events) {
      if (e.value("cat", "") != "Node" || !e.contains("args")) continue;
      const auto& args = e["args"];
      if (args.contains("op_name") && e.value("name", "").ends_with("_kernel_time"))
        ++counts[args["op_name"].get<std::string>()];
    }
  }
  json out = {{"kernel_runs_by_op", counts}};
  if (dir.keep()) out["file"] = file;
  return out;
}

// ---- profile: where the native engine's time goes ------------------------

NativeEngine* native_engine_of(EmbeddingProvider& provider) {
  auto* pipeline = dynamic_cast<EmbeddingPipeline*>(&provider);
  return pipeline == nullptr ? nullptr : dynamic_cast<NativeEngine*>(&pipeline->engine());
}

// Per-step times of `passes` requests, with the pipeline's own stages
// (tokenize, tensor, pool + normalize) beside the encoder's steps.
json native_profile(EmbeddingProvider& provider, NativeEngine& engine,
                    const std::vector<std::string>& texts, std::size_t passes, double peak) {
  const auto request = EmbedRequest::from_texts(texts);
  for (int i = 0; i < 3; ++i) provider.embed_batch(request);
  engine.set_profiling(true);
  StageTimings sum;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < passes; ++i) {
    const auto result = provider.embed_batch(request);
    const auto& s = result.usage.stages;
    sum.tokenize_us += s.tokenize_us, sum.tensor_us += s.tensor_us;
    sum.pool_us += s.pool_us + s.normalize_us;
  }
  ProfileWindow window{seconds_since(start), peak, {}};
  window.outside = {{"tokenize", sum.tokenize_us / 1e6},
                    {"tensor", sum.tensor_us / 1e6},
                    {"pool+normalize", sum.pool_us / 1e6}};
  auto table = native_profile_json(engine.profile(), window);
  engine.set_profiling(false);
  table["texts"] = texts.size();
  table["passes"] = passes;
  return table;
}

// ---- report ----------------------------------------------------------------

void print_results(const json& r) {
  if (r.contains("latency")) {
    std::printf("\n%-8s %6s %9s %9s %9s | %9s %9s %9s %9s %9s  (mean us per stage, share)\n",
                "input", "tokens", "p50 ms", "p95 ms", "p99 ms", "tokenize", "tensor", "infer",
                "pool", "normalize");
    for (const auto& l : r["latency"]) {
      const auto& s = l["mean_stage_us"];
      const double total = s["total"].get<double>();
      std::printf("%-8s %6d %9.3f %9.3f %9.3f |", l["input"].get<std::string>().c_str(),
                  l["tokens"].get<int>(), l["p50_ms"].get<double>(), l["p95_ms"].get<double>(),
                  l["p99_ms"].get<double>());
      for (const char* k : {"tokenize", "tensor", "inference", "pool", "normalize"})
        std::printf(" %5.0f %2.0f%%", s[k].get<double>(), 100 * s[k].get<double>() / total);
      std::printf("\n");
    }
  }
  if (r.contains("throughput")) {
    std::printf("\n%6s %14s %14s %10s %12s\n", "batch", "sentences/s", "tokens/s", "GFLOP/s",
                "efficiency");
    for (const auto& t : r["throughput"]) {
      std::printf("%6d %14.1f %14.0f %10.1f %11.1f%%\n", t["batch_size"].get<int>(),
                  t["sentences_per_s"].get<double>(), t["tokens_per_s"].get<double>(),
                  t.value("gflops", 0.0), t.value("efficiency_pct", 0.0));
    }
  }
  if (r.contains("accuracy")) std::printf("\naccuracy: %s\n", r["accuracy"].dump().c_str());
  if (!r.contains("profile")) return;
  const auto& p = r["profile"];
  if (p.contains("kernel_runs_by_op")) {
    std::printf("\noperators run: %s\n", p.dump().c_str());
    return;
  }
  for (const auto& [name, table] : p["native_steps"].items())
    print_native_profile("native engine, " + name, table);
}

void print_comparison(const json& c) {
  const auto& names = c["engines"];
  const std::string first = names[0], second = names[1];
  if (c.contains("latency")) {
    std::printf("\nside by side, latency (ms; ratio = %s / %s time)\n%-8s", second.c_str(),
                first.c_str(), "input");
    for (const auto& n : names) std::printf(" %10s p50 %6s", n.get<std::string>().c_str(), "p95");
    std::printf(" %9s\n", "p95 ratio");
    for (const auto& l : c["latency"]) {
      std::printf("%-8s", l["input"].get<std::string>().c_str());
      for (const auto& n : names)
        std::printf(" %14.3f %6.3f", l[n.get<std::string>()]["p50_ms"].get<double>(),
                    l[n.get<std::string>()]["p95_ms"].get<double>());
      std::printf(" %8.2fx\n", l["p95_ratio"].get<double>());
    }
  }
  if (c.contains("throughput")) {
    std::printf("\nside by side, throughput (sentences/s; ratio = %s / %s)\n%6s", first.c_str(),
                second.c_str(), "batch");
    for (const auto& n : names) std::printf(" %12s", n.get<std::string>().c_str());
    std::printf(" %9s\n", "ratio");
    for (const auto& t : c["throughput"]) {
      std::printf("%6d", t["batch_size"].get<int>());
      for (const auto& n : names)
        std::printf(" %12.1f", t[n.get<std::string>()]["sentences_per_s"].get<double>());
      std::printf(" %8.2fx\n", t["ratio"].get<double>());
    }
  }
}

void print_human(const json& r) {
  const auto& c = r["config"];
  std::printf("akidb-embed bench: model %s, engine %s, variant %s, threads %d, padding %s\n",
              c["model"].get<std::string>().c_str(), c["engine"].get<std::string>().c_str(),
              c["variant"].get<std::string>().c_str(), c["threads"].get<int>(),
              c["padding"].get<std::string>().c_str());
  if (r.contains("peak_gflops"))
    std::printf("measured FMA peak: %.1f GFLOP/s\n", r["peak_gflops"].get<double>());
  if (!r.contains("engines")) {
    print_results(r);
    return;
  }
  for (const auto& [name, part] : r["engines"].items()) {
    std::printf("\n==== engine %s (%s, %s)\n", name.c_str(),
                part["variant"].get<std::string>().c_str(),
                part["execution_provider"].get<std::string>().c_str());
    print_results(part);
  }
  print_comparison(r["comparison"]);
  std::printf("\nidle check: at most %.2f ms of CPU in a 10 ms window before a timed phase\n",
              r["idle_check_ms"].get<double>());
}

// ---- running ---------------------------------------------------------------

struct Contender {
  std::string engine;
  std::unique_ptr<EmbeddingProvider> provider;
  json results = json::object();
};

// The engines to compare: --engines, else the one --engine.
std::vector<std::string> engine_list(const BenchOptions& o) {
  if (o.engines.empty()) return {o.model.provider.engine};
  std::vector<std::string> out;
  for (const auto& e : o.engines) {
    if (e == "python")
      throw invalid_request(
          "bench measures in-process engines; for --engine python run "
          "akidb-bridge-bench (docs/bridge.md)");
    if (std::find(out.begin(), out.end(), e) != out.end())
      throw invalid_request("--engines names " + e + " twice");
    out.push_back(e);
  }
  return out;
}

std::vector<Contender> make_contenders(const BenchOptions& o, const ProfileDir* profile) {
  const auto names = engine_list(o);
  std::vector<Contender> out;
  for (const auto& name : names) {
    auto opts = bench_provider_options(o, name == "onnx" ? profile : nullptr);
    opts.engine = name;
    // Side by side, --variant picks the ONNX graph; the native engine runs fp32.
    if (names.size() > 1 && name == "native") opts.variant.clear();
    out.push_back({name, make_provider(opts)});
  }
  return out;
}

// Runs `measure` for every engine in turn, each from an idle process (the
// other engines' threads asleep); returns the largest idle-window CPU seen.
template <class Fn>
double each_settled(std::vector<Contender>& contenders, Fn&& measure) {
  double worst = 0;
  for (auto& c : contenders) {
    worst = std::max(worst, wait_until_idle());
    measure(c);
  }
  return worst;
}

json compare(const std::vector<Contender>& cs) {
  const std::string first = cs[0].engine, second = cs[1].engine;
  json c = {{"engines", json::array()}};
  for (const auto& x : cs) c["engines"].push_back(x.engine);
  const auto& a = cs[0].results;
  const auto& b = cs[1].results;
  if (a.contains("latency")) {
    for (std::size_t i = 0; i < a["latency"].size(); ++i) {
      json row = {{"input", a["latency"][i]["input"]}};
      for (const auto& x : cs) row[x.engine] = x.results["latency"][i];
      row["p95_ratio"] =
          b["latency"][i]["p95_ms"].get<double>() / a["latency"][i]["p95_ms"].get<double>();
      c["latency"].push_back(row);
    }
  }
  if (a.contains("throughput")) {
    for (std::size_t i = 0; i < a["throughput"].size(); ++i) {
      json row = {{"batch_size", a["throughput"][i]["batch_size"]}};
      for (const auto& x : cs) row[x.engine] = x.results["throughput"][i];
      row["ratio"] = a["throughput"][i]["sentences_per_s"].get<double>() /
                     b["throughput"][i]["sentences_per_s"].get<double>();
      c["throughput"].push_back(row);
    }
  }
  return c;
}

json profile_of(Contender& c, const BenchOptions& o, const ProfileDir& dir, double peak) {
  if (auto* native = native_engine_of(*c.provider)) {
    json steps;
    const std::size_t passes = o.quick ? 5 : std::max<std::size_t>(o.iterations, 20);
    for (auto [name, tokens] : {std::pair{"short", 10}, {"long", 256}}) {
      wait_until_idle();
      const auto text = text_of_tokens(c.provider->tokenizer(), static_cast<std::size_t>(tokens));
      steps[name] = native_profile(*c.provider, *native, {text}, passes, peak);
    }
    return {{"native_steps", steps}};
  }
  return executed_ops(*c.provider, dir);
}

json run_bench(const BenchOptions& o) {
  if (o.model.provider.engine == "python" && o.engines.empty()) {
    throw invalid_request(
        "bench measures in-process engines; for --engine python run "
        "akidb-bridge-bench (docs/bridge.md)");
  }
  // Declared before the providers: the profile directory outlives the session.
  std::optional<ProfileDir> profile_dir;
  if (o.profile) profile_dir.emplace(o.profile_dir);
  auto contenders = make_contenders(o, profile_dir ? &*profile_dir : nullptr);
  const int threads = o.model.provider.threads > 0
                          ? o.model.provider.threads
                          : static_cast<int>(std::thread::hardware_concurrency());
  std::string engines;
  for (const auto& c : contenders) engines += (engines.empty() ? "" : ",") + c.engine;
  const auto& info = contenders[0].provider->model_info();
  json r = {{"config",
             {{"model", info.model},
              {"variant", info.variant},
              {"threads", threads},
              {"padding", o.padding},
              {"sort_by_length", !o.no_sort},
              {"optimization", o.optimization},
              {"spinning", !o.no_spinning},
              {"engine", engines},
              {"device", info.device},
              {"execution_provider", info.execution_provider},
              {"max_inference_tokens", o.model.provider.pipeline.max_inference_tokens}}}};
  const auto arch = read_architecture(o.model.provider.model_dir);
  const std::size_t iterations = o.quick ? 5 : o.iterations;
  double idle = 0;
  if (o.stages.contains("latency")) {
    for (auto [name, tokens] : {std::pair{"short", 10}, {"medium", 60}, {"long", 256}}) {
      const auto text =
          text_of_tokens(contenders[0].provider->tokenizer(), static_cast<std::size_t>(tokens));
      idle = std::max(
          idle, each_settled(contenders, [&](Contender& c) {
            c.results["latency"].push_back(measure_latency(*c.provider, name, text, iterations));
          }));
    }
  }
  std::vector<StsPair> pairs;
  if (o.stages.contains("throughput") || (o.stages.contains("accuracy") && !o.quick))
    pairs = load_sts(sts_path(o));
  double peak = 0;
  if (o.stages.contains("throughput") || o.profile) {
    idle = std::max(idle, wait_until_idle());
    peak = measure_peak_gflops(threads, o.quick ? 0.05 : 0.5);
    r["peak_gflops"] = peak;
  }
  if (o.stages.contains("throughput")) {
    auto texts = unique_sentences(pairs);
    texts.resize(std::min(texts.size(), o.quick ? std::size_t{16} : o.sentences));
    for (auto b : o.batch_sizes) {
      idle = std::max(idle, each_settled(contenders, [&](Contender& c) {
                        c.results["throughput"].push_back(
                            measure_throughput(*c.provider, texts, b, arch, peak));
                      }));
    }
  }
  if (o.stages.contains("accuracy")) {
    const auto golden = resolve_data(o.golden, "--golden DIR", "golden vectors directory", "golden",
                                     "tests/data/golden");
    for (auto& c : contenders) {
      c.results["accuracy"]["golden"] = golden_cosines(*c.provider, golden);
      if (!o.quick) c.results["accuracy"]["sts_spearman"] = sts_spearman(*c.provider, pairs);
    }
  }
  if (profile_dir) {
    for (auto& c : contenders) c.results["profile"] = profile_of(c, o, *profile_dir, peak);
  }
  if (contenders.size() == 1) {
    r.update(contenders[0].results);
    return r;
  }
  for (auto& c : contenders) {
    const auto& i = c.provider->model_info();
    c.results["variant"] = i.variant;
    c.results["execution_provider"] = i.execution_provider;
    r["engines"][c.engine] = c.results;
  }
  r["comparison"] = compare(contenders);
  r["idle_check_ms"] = idle;
  return r;
}

}  // namespace

void register_bench(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  auto* cmd = app.add_subcommand("bench", "measure latency, throughput, efficiency and accuracy");
  add_model_options(*cmd, o->model);
  cmd->add_option("--padding", o->padding, "dynamic, or a fixed length such as 256 or 512")
      ->check(CLI::IsMember({"dynamic", "128", "256", "512"}))
      ->capture_default_str();
  cmd->add_option("--optimization", o->optimization, "ONNX Runtime graph optimization level")
      ->check(CLI::IsMember({"disabled", "basic", "extended", "all"}))
      ->capture_default_str();
  cmd->add_flag("--no-sort", o->no_sort, "do not bucket large batches by length");
  cmd->add_flag("--no-spinning", o->no_spinning, "disable intra-op thread spinning");
  cmd->add_option("--engines", o->engines,
                  "run these engines side by side in one run, each phase from an idle process "
                  "(e.g. native,onnx; ratios against the first)")
      ->delimiter(',')
      ->check(CLI::IsMember(available_engines()));
  cmd->add_flag("--profile", o->profile,
                "report the operators ONNX Runtime ran, or where the native engine's time goes "
                "per step (time, share, GFLOP/s)");
  cmd->add_option("--profile-dir", o->profile_dir,
                  "keep the ONNX Runtime profile JSON in this directory (default: a temporary "
                  "directory, removed afterwards)");
  cmd->add_flag("--quick", o->quick, "a tiny configuration (smoke test)");
  cmd->add_option("--stages", o->stages, "latency, throughput, accuracy")
      ->check(CLI::IsMember({"latency", "throughput", "accuracy"}))
      ->capture_default_str();
  cmd->add_option("--batch-sizes", o->batch_sizes, "throughput batch sizes")->capture_default_str();
  cmd->add_option("--iterations", o->iterations, "latency iterations per input")
      ->capture_default_str();
  cmd->add_option("--sentences", o->sentences, "STS sentences for throughput")
      ->capture_default_str();
  cmd->add_option("--sts", o->sts,
                  "STS benchmark CSV (default: <prefix>/share/akidb-embed/stsb/stsb-en-test.csv "
                  "of the installed binary; in a build tree the source tree's data/stsb)");
  cmd->add_option("--golden", o->golden,
                  "golden vectors directory (default: <prefix>/share/akidb-embed/golden; in a "
                  "build tree the source tree's tests/data/golden)");
  cmd->add_option("--json", o->json_out,
                  "also write the results as JSON to this file ('-': stdout only)");
  cmd->callback([o] {
    const auto result = run_bench(*o);
    if (o->json_out == "-") {
      std::cout << result.dump(2) << '\n';
      return;
    }
    print_human(result);
    if (!o->json_out.empty()) std::ofstream(o->json_out) << result.dump(2) << '\n';
  });
}

}  // namespace akidb::embed::cli
