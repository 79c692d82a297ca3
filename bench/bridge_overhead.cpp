// akidb-bridge-bench: what the Python bridge costs per request over the
// in-process OnnxProvider, for JSON and binary framing, at a few batch sizes.
//
// Every iteration runs the same batch on the three providers in turn, so load
// from other processes hits them alike; the table reports medians of the
// per-iteration differences. "ipc" is the bridge's wall time less the time the
// Python service spent tokenizing, running the model and normalizing: the cost
// of the pipes, the framing and the (de)serialization alone. "overhead of
// minima" compares the fastest iteration of each, the least disturbed by load.
//
//   akidb-bridge-bench --model models/all-MiniLM-L6-v2 --threads 1 --iterations 300
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "akidb/embed/error.hpp"
#include "akidb/embed/onnx_provider.hpp"
#include "akidb/embed/python_bridge_provider.hpp"

namespace {

using namespace akidb::embed;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string model_dir = "models/all-MiniLM-L6-v2";
  std::string texts = "tests/data/golden/texts.jsonl";
  std::string python;
  int threads = 1;
  std::size_t iterations = 300;
  std::size_t warmup = 30;
  std::vector<std::size_t> batches{1, 32};
};

struct Sample {
  double wall_us = 0;
  double service_us = 0;  // the Python service's own compute time (bridge only)
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double minimum(const std::vector<double>& v) {
  return v.empty() ? 0 : *std::min_element(v.begin(), v.end());
}

double p90(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() * 9 / 10];
}

std::vector<std::string> read_texts(const std::string& path) {
  std::vector<std::string> texts;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    auto text = nlohmann::json::parse(line).at("text").get<std::string>();
    if (!text.empty() && text.size() < 400) texts.push_back(std::move(text));
  }
  if (texts.empty()) throw invalid_request("no texts in " + path);
  return texts;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line.substr(0, line.find(' ', line.find(' ', line.find(' ') + 1) + 1)) + "\n";
}

Sample time_one(EmbeddingProvider& provider, const EmbedRequest& request) {
  const auto start = Clock::now();
  const auto response = provider.embed_batch(request);
  const double wall = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  const auto& s = response.usage.stages;
  return {wall, s.tokenize_us + s.inference_us + s.normalize_us};
}

PythonBridgeProvider make_bridge(const Options& o, BridgeFraming framing) {
  PythonBridgeOptions options;
  options.model_dir = o.model_dir;
  options.threads = o.threads;
  options.python = o.python;
  options.framing = framing;
  options.extra_args = {"--log-level", "warning"};
  return PythonBridgeProvider(options);
}

void run(const Options& o) {
  const auto texts = read_texts(o.texts);
  OnnxProviderOptions onnx_options;
  onnx_options.model_dir = o.model_dir;
  onnx_options.intra_op_threads = o.threads;
  OnnxProvider onnx(onnx_options);
  auto json_bridge = make_bridge(o, BridgeFraming::Json);
  auto binary_bridge = make_bridge(o, BridgeFraming::Binary);
  EmbeddingProvider* providers[] = {&onnx, &json_bridge, &binary_bridge};

  std::printf("threads=%d iterations=%zu load average before: %s", o.threads, o.iterations,
              load_average().c_str());
  std::printf("(medians; overhead = bridge - in-process, paired per iteration)\n\n");
  std::printf(
      "| batch | in-process ms | framing | bridge ms | p90 ms | overhead ms | ipc ms | "
      "overhead of minima ms |\n");
  std::printf("|---:|---:|---|---:|---:|---:|---:|---:|\n");
  for (std::size_t batch : o.batches) {
    std::vector<double> wall[3], overhead[3], ipc[3];
    for (std::size_t it = 0; it < o.warmup + o.iterations; ++it) {
      std::vector<std::string> inputs;
      for (std::size_t k = 0; k < batch; ++k)
        inputs.push_back(texts[(it * batch + k) % texts.size()]);
      const auto request = EmbedRequest::from_texts(std::move(inputs));
      Sample samples[3];
      for (int p = 0; p < 3; ++p) samples[p] = time_one(*providers[p], request);
      if (it < o.warmup) continue;
      for (int p = 0; p < 3; ++p) {
        wall[p].push_back(samples[p].wall_us / 1000);
        overhead[p].push_back((samples[p].wall_us - samples[0].wall_us) / 1000);
        ipc[p].push_back((samples[p].wall_us - samples[p].service_us) / 1000);
      }
    }
    for (int p = 1; p < 3; ++p) {
      std::printf("| %zu | %.3f | %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n", batch,
                  median(wall[0]), p == 1 ? "json" : "binary", median(wall[p]), p90(wall[p]),
                  median(overhead[p]), median(ipc[p]), minimum(wall[p]) - minimum(wall[0]));
    }
  }
  std::printf("\nload average after: %s", load_average().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("Per-request overhead of the Python bridge over the in-process provider");
  app.add_option("--model", o.model_dir, "model directory")->capture_default_str();
  app.add_option("--texts", o.texts, "JSONL file of {\"text\": ...}")->capture_default_str();
  app.add_option("--python", o.python, "interpreter for the bridge workers");
  app.add_option("--threads", o.threads, "intra-op threads, both sides")->capture_default_str();
  app.add_option("--iterations", o.iterations, "measured iterations per batch size")
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "unmeasured iterations first")->capture_default_str();
  app.add_option("--batch", o.batches, "batch sizes")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "akidb-bridge-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
