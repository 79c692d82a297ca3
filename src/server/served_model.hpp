#pragma once
// The models one server serves. Each ServedModel has its own Scheduler (its
// own queue budget: a flood on one model is refused with 503/429 for that
// model alone) and its own metrics. The first model is the default: TEI's
// routes and an OpenAI request without `model` use it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "akidb/embed/provider.hpp"
#include "akidb/embed/scheduler.hpp"
#include "server/metrics.hpp"
#include "server/server_log.hpp"

namespace akidb::embed::server {

// A loaded model handed to the server (it must outlive the server).
struct ModelAttachment {
  EmbeddingProvider* provider = nullptr;
  std::string name;                            // the public id; "": the manifest's name
  std::optional<SchedulerOptions> scheduling;  // this model's budget; default: the server's
};

class ServedModel {
 public:
  // `log` (which must outlive the model) gets the watchdog's line.
  ServedModel(const ModelAttachment& attachment, const SchedulerOptions& scheduling,
              const ServerLog& log);
  ServedModel(const ServedModel&) = delete;
  ServedModel& operator=(const ServedModel&) = delete;

  // The public id: the manifest's name unless the attachment named it.
  const std::string& name() const noexcept { return name_; }
  // True for the name or an "org/<name>" hub id (e.g.
  // "sentence-transformers/all-MiniLM-L6-v2").
  bool answers_to(std::string_view requested) const noexcept;

  EmbeddingProvider& provider() const noexcept { return *provider_; }
  const ModelInfo& info() const noexcept { return info_; }
  Scheduler& scheduler() const noexcept { return *scheduler_; }
  ModelMetrics& metrics() noexcept { return metrics_; }
  std::int64_t created() const noexcept { return created_; }
  // Not ok once its device failed at run time or its scheduler's watchdog
  // found an engine run stuck (both sticky), with the message that says so.
  HealthStatus health() const;
  // Its queue and counters now, for /metrics.
  Metrics::ModelState state() const;

 private:
  EmbeddingProvider* provider_;
  ModelInfo info_;
  std::string name_;
  std::string info_labels_;
  std::int64_t created_;
  ModelMetrics metrics_;
  std::unique_ptr<Scheduler> scheduler_;  // after metrics_: its observer writes there
};

class ServedModels {
 public:
  // Adds a model; throws Error(ModelError) when a model added before has
  // the same name.
  void add(std::unique_ptr<ServedModel> model);

  bool empty() const noexcept { return models_.empty(); }
  ServedModel& default_model() const { return *models_.front(); }
  const std::vector<std::unique_ptr<ServedModel>>& all() const noexcept { return models_; }
  // The model an OpenAI request names: "" or absent -> the default; with one
  // model served, any name (as before several models could be served);
  // else the model that answers_to() it, or ApiError 404 model_not_found
  // listing the served models.
  ServedModel& route(std::string_view requested) const;
  // The model of exactly this name (GET /v1/models/{id}); nullptr when none.
  ServedModel* find(std::string_view requested) const noexcept;
  // "a, b, c": the served models' names.
  std::string names() const;

  void shutdown() const;

 private:
  std::vector<std::unique_ptr<ServedModel>> models_;
};

}  // namespace akidb::embed::server
