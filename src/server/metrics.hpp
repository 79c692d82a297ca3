#pragma once
// The server's Prometheus metrics: objects owned by the server (no global
// registry), rendered in the text exposition format. Metrics holds the HTTP
// series (by route); each served model has its own ModelMetrics, rendered
// with a model="..." label.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "akidb/embed/scheduler.hpp"

namespace akidb::embed::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends the _bucket/_sum/_count lines; labels is "" or `key="value"`.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // one per bound, plus +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

enum class Stage { Queue, Tokenize, Inference, PoolNormalize, Serialize };

// A label value as the exposition format wants it: \, " and newline escaped.
std::string label_value(std::string_view value);

// One model's series: stages, batches, served counts.
class ModelMetrics {
 public:
  ModelMetrics();

  void observe_stage(Stage stage, double seconds);
  void observe_batch(const BatchStats& stats);
  void add_served(std::size_t embeddings, std::size_t tokens);

  struct Values {
    std::vector<Histogram> stages;  // by Stage
    Histogram batch_requests;
    Histogram batch_inputs;
    Histogram batch_tokens;
    std::uint64_t embeddings = 0;
    std::uint64_t tokens = 0;
  };
  Values snapshot() const;

 private:
  // Invariant: `values_` is read and written only under `mu_` (observers on
  // the scheduler's and the handlers' threads, snapshot() on a scrape), and
  // `mu_` is a leaf lock: nothing else is locked or called while it is held.
  // A snapshot is one consistent instant of this model's series.
  mutable std::mutex mu_;
  Values values_;
};

class Metrics {
 public:
  Metrics() = default;

  void count_request(std::string_view route, int status);
  void observe_latency(std::string_view route, double seconds);

  // What the scheduler says at scrape time.
  struct QueueState {
    std::size_t requests = 0;   // requests with inputs still queued
    std::size_t sequences = 0;  // inputs queued
    SchedulerCounters counters;
  };
  // One served model at scrape time.
  struct ModelState {
    std::string name;         // the model="..." label's value
    std::string info_labels;  // akidb_info's labels (key="value",...)
    const ModelMetrics* metrics = nullptr;
    QueueState queue;
  };
  // Prometheus text: the HTTP series, then each family with one series per model.
  std::string render(const std::vector<ModelState>& models) const;

 private:
  // Invariant: `requests_` and `latency_` are touched only under `mu_`, a leaf
  // lock. render() snapshots each model's series before taking `mu_`, never
  // inside it, so the two kinds of lock are never held together.
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;  // (route, status)
  std::map<std::string, Histogram> latency_;                       // by route
};

}  // namespace akidb::embed::server
