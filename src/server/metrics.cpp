#include "server/metrics.hpp"

#include <charconv>

#include "core/float_format.hpp"

namespace akidb::embed::server {
namespace {

constexpr std::string_view kStageNames[] = {"queue", "tokenize", "inference", "pool_normalize",
                                            "serialize"};

std::vector<double> latency_bounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
}

std::vector<double> powers_of_two(double from, double to) {
  std::vector<double> out;
  for (double v = from; v <= to; v *= 2) out.push_back(v);
  return out;
}

void append_number(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, ec == std::errc() ? end : buf);
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  out += ' ';
  append_number(out, value);
  out += '\n';
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  const std::string bucket = std::string(name) + "_bucket";
  const std::string prefix = labels.empty() ? "" : std::string(labels) + ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    std::string le = "+Inf";
    if (i < bounds_.size()) {
      le.clear();
      append_number(le, bounds_[i]);
    }
    sample(out, bucket, prefix + "le=\"" + le + "\"", static_cast<double>(cumulative));
  }
  sample(out, std::string(name) + "_sum", labels, sum_);
  sample(out, std::string(name) + "_count", labels, static_cast<double>(count_));
}

Metrics::Metrics()
    : batch_requests_(powers_of_two(1, 256)),
      batch_inputs_(powers_of_two(1, 2048)),
      batch_tokens_(powers_of_two(16, 65536)) {
  for (std::size_t i = 0; i < std::size(kStageNames); ++i) stages_.emplace_back(latency_bounds());
}

void Metrics::count_request(std::string_view route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), status}];
}

void Metrics::observe_latency(std::string_view route, double seconds) {
  std::lock_guard lock(mu_);
  auto it = latency_.find(std::string(route));
  if (it == latency_.end()) it = latency_.emplace(std::string(route), latency_bounds()).first;
  it->second.observe(seconds);
}

void Metrics::observe_stage(Stage stage, double seconds) {
  std::lock_guard lock(mu_);
  stages_[static_cast<std::size_t>(stage)].observe(seconds);
}

void Metrics::observe_batch(const BatchStats& stats) {
  std::lock_guard lock(mu_);
  batch_requests_.observe(static_cast<double>(stats.requests));
  batch_inputs_.observe(static_cast<double>(stats.sequences));
  batch_tokens_.observe(static_cast<double>(stats.tokens));
  const auto& s = stats.stages;
  stages_[static_cast<std::size_t>(Stage::Inference)].observe((s.tensor_us + s.inference_us) / 1e6);
  stages_[static_cast<std::size_t>(Stage::PoolNormalize)].observe((s.pool_us + s.normalize_us) /
                                                                  1e6);
}

void Metrics::add_served(std::size_t embeddings, std::size_t tokens) {
  std::lock_guard lock(mu_);
  embeddings_ += embeddings;
  tokens_ += tokens;
}

std::string Metrics::render(const QueueState& queue, const std::string& info_labels) const {
  std::lock_guard lock(mu_);
  const auto& counters = queue.counters;
  std::string out;
  out.reserve(16384);
  header(out, "akidb_info", "gauge",
         "The served model and the engine, device and provider running it.");
  sample(out, "akidb_info", info_labels, 1.0);
  header(out, "akidb_http_requests_total", "counter", "HTTP requests by route and status.");
  for (const auto& [key, n] : requests_) {
    sample(out, "akidb_http_requests_total",
           "route=\"" + key.first + "\",status=\"" + std::to_string(key.second) + "\"",
           static_cast<double>(n));
  }
  header(out, "akidb_http_request_duration_seconds", "histogram",
         "Wall time of HTTP requests by route.");
  for (const auto& [route, h] : latency_) {
    h.render(out, "akidb_http_request_duration_seconds", "route=\"" + route + "\"");
  }
  header(out, "akidb_stage_duration_seconds", "histogram",
         "Time per stage: tokenize, queue and serialize per request; inference and "
         "pool_normalize per batch.");
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    stages_[i].render(out, "akidb_stage_duration_seconds",
                      "stage=\"" + std::string(kStageNames[i]) + "\"");
  }
  header(out, "akidb_batch_size", "histogram", "Requests with inputs in one inference call.");
  batch_requests_.render(out, "akidb_batch_size", "");
  header(out, "akidb_batch_inputs", "histogram", "Inputs in one inference call.");
  batch_inputs_.render(out, "akidb_batch_inputs", "");
  header(out, "akidb_batch_tokens", "histogram", "Tokens (after truncation) per inference call.");
  batch_tokens_.render(out, "akidb_batch_tokens", "");
  header(out, "akidb_queue_depth", "gauge",
         "Requests with inputs waiting in the scheduler's queue.");
  sample(out, "akidb_queue_depth", "", static_cast<double>(queue.requests));
  header(out, "akidb_queue_sequences", "gauge", "Inputs waiting in the scheduler's queue.");
  sample(out, "akidb_queue_sequences", "", static_cast<double>(queue.sequences));
  header(out, "akidb_queue_rejected_total", "counter",
         "Requests refused because the queue was full.");
  sample(out, "akidb_queue_rejected_total", "", static_cast<double>(counters.rejected));
  header(out, "akidb_requests_cancelled_total", "counter",
         "Requests dropped because their client went away or their deadline passed.");
  sample(out, "akidb_requests_cancelled_total", "",
         static_cast<double>(counters.cancelled_requests));
  header(out, "akidb_sequences_cancelled_total", "counter",
         "Inputs of cancelled or expired requests that were never run (compute saved).");
  sample(out, "akidb_sequences_cancelled_total", "",
         static_cast<double>(counters.cancelled_sequences));
  header(out, "akidb_batches_total", "counter", "Inference batches run.");
  sample(out, "akidb_batches_total", "", static_cast<double>(counters.batches));
  header(out, "akidb_batches_express_total", "counter",
         "Batches of short inputs run by the express lane beside a busy worker.");
  sample(out, "akidb_batches_express_total", "", static_cast<double>(counters.express_batches));
  header(out, "akidb_batches_merged_total", "counter",
         "Inference batches holding inputs of more than one request.");
  sample(out, "akidb_batches_merged_total", "", static_cast<double>(counters.merged_batches));
  header(out, "akidb_embeddings_total", "counter", "Embeddings served.");
  sample(out, "akidb_embeddings_total", "", static_cast<double>(embeddings_));
  header(out, "akidb_tokens_total", "counter", "Tokens embedded (after truncation).");
  sample(out, "akidb_tokens_total", "", static_cast<double>(tokens_));
  return out;
}

}  // namespace akidb::embed::server
