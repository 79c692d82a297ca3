// The service routes: /health, /info, /metrics.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

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

namespace {

// TEI's model_dtype for a manifest variant: "fp32" and "opt" (the fused
// fp32 graph) are float32; "int8" has int8 weights.
std::string dtype_of(const std::string& variant) {
  if (variant.find("int8") != std::string::npos) return "int8";
  if (variant.find("fp16") != std::string::npos) return "float16";
  if (variant.find("bf16") != std::string::npos) return "bfloat16";
  return "float32";
}

}  // namespace

// TEI's Info fields first, then ours.
HttpResponse Router::info_route(const HttpRequest&) {
  require_ready();
  const auto& b = scheduler_->options();
  const nlohmann::json j = {
      {"model_id", info_.model},
      {"model_sha", nullptr},
      {"model_dtype", dtype_of(info_.variant)},
      {"served_model_name", info_.model},
      {"model_type", {{"embedding", {{"pooling", info_.pooling}}}}},
      {"max_concurrent_requests", b.max_queue},
      {"max_batch_tokens", b.max_batch_tokens},
      {"max_batch_requests", b.max_batch_sequences},
      {"max_client_batch_size", options_.limits.max_inputs},
      {"auto_truncate", true},
      // Admission tokenizes a large request on up to this many threads
      // (src/pipeline/admission.cpp); a small one on the request's own.
      {"tokenization_workers", std::min<std::size_t>(std::thread::hardware_concurrency(), 8)},
      {"sha", nullptr},
      {"docker_label", nullptr},
      {"dimension", info_.dimension},
      {"max_input_length", info_.max_tokens},
      {"backend", info_.backend},
      {"engine", info_.backend},
      {"device", info_.device},
      {"execution_provider", info_.execution_provider},
      {"variant", info_.variant},
      {"pooled_on", info_.pooled_on},
      {"version", version_string},
      {"scheduling",
       {{"max_batch_tokens", b.max_batch_tokens},
        {"max_batch_sequences", b.max_batch_sequences},
        {"express_max_tokens", b.express_max_tokens},
        {"max_batch_wait_ms", b.max_batch_wait_ms},
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
