#pragma once
// The server's Prometheus metrics: an object owned by the server (no global
// registry), rendered in the text exposition format.
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

class Metrics {
 public:
  Metrics();

  void count_request(std::string_view route, int status);
  void observe_latency(std::string_view route, double seconds);
  void observe_stage(Stage stage, double seconds);
  void observe_batch(const BatchStats& stats);
  void add_served(std::size_t embeddings, std::size_t tokens);

  // What the scheduler says at scrape time.
  struct QueueState {
    std::size_t requests = 0;   // requests with inputs still queued
    std::size_t sequences = 0;  // inputs queued
    SchedulerCounters counters;
  };
  // Prometheus text; `info_labels` (key="value",...) name the model and engine.
  std::string render(const QueueState& queue, const std::string& info_labels) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;  // (route, status)
  std::map<std::string, Histogram> latency_;                       // by route
  std::vector<Histogram> stages_;                                  // by Stage
  Histogram batch_requests_;
  Histogram batch_inputs_;
  Histogram batch_tokens_;
  std::uint64_t embeddings_ = 0;
  std::uint64_t tokens_ = 0;
};

}  // namespace akidb::embed::server
