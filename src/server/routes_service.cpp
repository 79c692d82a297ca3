// The service routes: /health, /info, /metrics.
#include <nlohmann/json.hpp>

#include "akidb/embed/version.hpp"
#include "server/api_error.hpp"
#include "server/router.hpp"

namespace akidb::embed::server {

HttpResponse Router::health(const HttpRequest&) {
  require_ready();
  // A device that failed at run time stays failed: 503 (docs/devices.md).
  if (const auto device = provider_->device_status(); !device.ok)
    throw ApiError{503, "server_error", "unavailable", device.message};
  HttpResponse res;
  res.body = R"({"status":"ok"})";
  return res;
}

HttpResponse Router::info_route(const HttpRequest&) {
  require_ready();
  const auto& b = scheduler_->options();
  const nlohmann::json j = {
      {"model_id", info_.model},
      {"dimension", info_.dimension},
      {"max_input_length", info_.max_tokens},
      {"backend", info_.backend},
      {"engine", info_.backend},
      {"device", info_.device},
      {"execution_provider", info_.execution_provider},
      {"variant", info_.variant},
      {"version", version_string},
      {"scheduling",
       {{"max_batch_tokens", b.max_batch_tokens},
        {"max_batch_sequences", b.max_batch_sequences},
        {"express_max_tokens", b.express_max_tokens},
        {"max_queue", b.max_queue},
        {"workers", b.workers}}},
      {"limits",
       {{"max_inputs", options_.limits.max_inputs},
        {"max_input_chars", options_.limits.max_input_chars},
        {"max_body_bytes", options_.max_body_bytes},
        {"request_timeout_ms", options_.request_timeout.count()}}},
  };
  HttpResponse res;
  res.body = j.dump();
  return res;
}

HttpResponse Router::metrics_route(const HttpRequest&) {
  Metrics::QueueState queue;
  if (ready_.load(std::memory_order_acquire)) {
    queue = {scheduler_->queued_requests(), scheduler_->queued_sequences(), scheduler_->counters()};
  }
  HttpResponse res;
  res.body = metrics_.render(queue, info_labels_);
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return res;
}

}  // namespace akidb::embed::server
