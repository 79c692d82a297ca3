#include "server/metrics.hpp"

#include <algorithm>
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

std::string label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

ModelMetrics::ModelMetrics()
    : values_{{},
              Histogram(powers_of_two(1, 256)),
              Histogram(powers_of_two(1, 2048)),
              Histogram(powers_of_two(16, 65536))} {
  for (std::size_t i = 0; i < std::size(kStageNames); ++i) {
    values_.stages.emplace_back(latency_bounds());
  }
}

void ModelMetrics::observe_stage(Stage stage, double seconds) {
  std::lock_guard lock(mu_);
  values_.stages[static_cast<std::size_t>(stage)].observe(seconds);
}

void ModelMetrics::observe_batch(const BatchStats& stats) {
  std::lock_guard lock(mu_);
  values_.batch_requests.observe(static_cast<double>(stats.requests));
  values_.batch_inputs.observe(static_cast<double>(stats.sequences));
  values_.batch_tokens.observe(static_cast<double>(stats.tokens));
  const auto& s = stats.stages;
  values_.stages[static_cast<std::size_t>(Stage::Inference)].observe(
      (s.tensor_us + s.inference_us) / 1e6);
  values_.stages[static_cast<std::size_t>(Stage::PoolNormalize)].observe(
      (s.pool_us + s.normalize_us) / 1e6);
}

void ModelMetrics::add_served(std::size_t embeddings, std::size_t tokens) {
  std::lock_guard lock(mu_);
  values_.embeddings += embeddings;
  values_.tokens += tokens;
}

ModelMetrics::Values ModelMetrics::snapshot() const {
  std::lock_guard lock(mu_);
  return values_;
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

namespace {

struct ModelView {
  std::string label;  // model="..."
  const Metrics::ModelState* state;
  ModelMetrics::Values values;
};

using Value = double (*)(const ModelView&);

// A gauge or counter family with one sample per model.
void per_model(std::string& out, const std::vector<ModelView>& models, std::string_view name,
               std::string_view type, std::string_view help, Value value) {
  header(out, name, type, help);
  for (const auto& m : models) sample(out, name, m.label, value(m));
}

using HistogramOf = const Histogram& (*)(const ModelView&);

void per_model(std::string& out, const std::vector<ModelView>& models, std::string_view name,
               std::string_view help, HistogramOf histogram) {
  header(out, name, "histogram", help);
  for (const auto& m : models) histogram(m).render(out, name, m.label);
}

double as_double(std::size_t n) { return static_cast<double>(n); }

void render_model_series(std::string& out, const std::vector<ModelView>& models) {
  header(out, "akidb_stage_duration_seconds", "histogram",
         "Time per stage: tokenize, queue and serialize per request; inference and "
         "pool_normalize per batch.");
  for (const auto& m : models) {
    for (std::size_t i = 0; i < m.values.stages.size(); ++i) {
      m.values.stages[i].render(out, "akidb_stage_duration_seconds",
                                m.label + ",stage=\"" + std::string(kStageNames[i]) + "\"");
    }
  }
  per_model(out, models, "akidb_batch_size", "Requests with inputs in one inference call.",
            [](const ModelView& m) -> const Histogram& { return m.values.batch_requests; });
  per_model(out, models, "akidb_batch_inputs", "Inputs in one inference call.",
            [](const ModelView& m) -> const Histogram& { return m.values.batch_inputs; });
  per_model(out, models, "akidb_batch_tokens", "Tokens (after truncation) per inference call.",
            [](const ModelView& m) -> const Histogram& { return m.values.batch_tokens; });
  per_model(out, models, "akidb_queue_depth", "gauge",
            "Requests with inputs waiting in the scheduler's queue.",
            [](const ModelView& m) { return as_double(m.state->queue.requests); });
  per_model(out, models, "akidb_queue_sequences", "gauge",
            "Inputs waiting in the scheduler's queue.",
            [](const ModelView& m) { return as_double(m.state->queue.sequences); });
  per_model(out, models, "akidb_queue_rejected_total", "counter",
            "Requests refused because the queue was full.",
            [](const ModelView& m) { return as_double(m.state->queue.counters.rejected); });
  per_model(
      out, models, "akidb_requests_cancelled_total", "counter",
      "Requests dropped because their client went away or their deadline passed.",
      [](const ModelView& m) { return as_double(m.state->queue.counters.cancelled_requests); });
  per_model(
      out, models, "akidb_sequences_cancelled_total", "counter",
      "Inputs of cancelled or expired requests that were never run (compute saved).",
      [](const ModelView& m) { return as_double(m.state->queue.counters.cancelled_sequences); });
  per_model(out, models, "akidb_batches_total", "counter", "Inference batches run.",
            [](const ModelView& m) { return as_double(m.state->queue.counters.batches); });
  per_model(out, models, "akidb_batches_express_total", "counter",
            "Batches of short inputs run by the express lane beside a busy worker.",
            [](const ModelView& m) { return as_double(m.state->queue.counters.express_batches); });
  per_model(out, models, "akidb_batches_merged_total", "counter",
            "Inference batches holding inputs of more than one request.",
            [](const ModelView& m) { return as_double(m.state->queue.counters.merged_batches); });
  per_model(out, models, "akidb_watchdog_trips_total", "counter",
            "Engine runs the watchdog found stuck (0 or 1: the model then fails every request "
            "until restarted).",
            [](const ModelView& m) { return as_double(m.state->queue.counters.watchdog_trips); });
  per_model(out, models, "akidb_embeddings_total", "counter", "Embeddings served.",
            [](const ModelView& m) { return static_cast<double>(m.values.embeddings); });
  per_model(out, models, "akidb_tokens_total", "counter", "Tokens embedded (after truncation).",
            [](const ModelView& m) { return static_cast<double>(m.values.tokens); });
}

}  // namespace

std::string Metrics::render(const std::vector<ModelState>& models) const {
  std::vector<ModelView> views;
  views.reserve(models.size());
  for (const auto& m : models) {
    if (m.metrics == nullptr) continue;
    views.push_back({"model=\"" + label_value(m.name) + "\"", &m, m.metrics->snapshot()});
  }
  std::string out;
  out.reserve(16384 * std::max<std::size_t>(1, views.size()));
  header(out, "akidb_info", "gauge",
         "The served models and the engine, device and provider running each.");
  for (const auto& m : models) sample(out, "akidb_info", m.info_labels, 1.0);
  {
    std::lock_guard lock(mu_);
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
  }
  render_model_series(out, views);
  return out;
}

}  // namespace akidb::embed::server
