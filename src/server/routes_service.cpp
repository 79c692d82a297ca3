// The service routes: /health, /info, /metrics.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/model_info_json.hpp"
#include "server/api_error.hpp"
#include "server/router.hpp"

namespace akidb::embed::server {

// 503 when the default model is unhealthy: its device failed (a device that
// failed at run time stays failed, docs/devices.md) or its scheduler's
// watchdog found an engine run stuck (docs/server.md, "Watchdog"); otherwise
// 200, with each model's state when several are served, so a failed
// non-default model shows without taking the others out.
HttpResponse Router::health(const HttpRequest&) {
  const auto& first = default_model();
  if (const auto health = first.health(); !health.ok) {
    throw ApiError{503, "server_error", "unavailable",
                   "model " + first.name() + ": " + health.message};
  }
  HttpResponse res;
  res.body = R"({"status":"ok"})";
  if (models_.all().size() == 1) return res;
  auto models = nlohmann::json::object();
  for (const auto& m : models_.all()) {
    const auto health = m->health();
    models[m->name()] = health.ok
                            ? nlohmann::json{{"status", "ok"}}
                            : nlohmann::json{{"status", "unhealthy"}, {"message", health.message}};
  }
  res.body = nlohmann::json{{"status", "ok"}, {"models", std::move(models)}}.dump();
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
  const auto& model = default_model();
  const auto& info = model.info();
  const auto& b = model.scheduler().options();
  auto served = nlohmann::json::array();
  for (const auto& m : models_.all()) served.push_back(m->name());
  nlohmann::json j = {
      {"model_id", info.model},
      {"model_sha", nullptr},
      {"model_dtype", dtype_of(info.variant)},
      {"served_model_name", model.name()},
      {"model_type", {{"embedding", {{"pooling", info.pooling}}}}},
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
      {"dimension", info.dimension},
      {"max_input_length", info.max_tokens},
      {"served_models", std::move(served)},
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
  j.update(runtime_json(info));
  HttpResponse res;
  res.body = j.dump();
  return res;
}

HttpResponse Router::metrics_route(const HttpRequest&) {
  std::vector<Metrics::ModelState> models;
  if (ready_.load(std::memory_order_acquire)) {
    for (const auto& m : models_.all()) models.push_back(m->state());
  }
  HttpResponse res;
  res.body = metrics_.render(models);
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return res;
}

}  // namespace akidb::embed::server
