#include "server/served_model.hpp"

#include <chrono>
#include <cstdio>

#include "akidb/embed/error.hpp"
#include "core/printable.hpp"
#include "server/api_error.hpp"

namespace akidb::embed::server {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string info_labels(const std::string& name, const ModelInfo& info) {
  return "model=\"" + label_value(name) + "\",engine=\"" + label_value(info.backend) +
         "\",device=\"" + label_value(info.device) + "\",execution_provider=\"" +
         label_value(info.execution_provider) + "\",variant=\"" + label_value(info.variant) + "\"";
}

std::string fixed(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", value);
  return text;
}

// The watchdog's one log line: which model, and the stuck batch's shape.
Scheduler::StuckObserver log_stuck(const std::string& name, const ServerLog& log) {
  return [name, &log](const WatchdogTrip& trip) {
    log.error("model " + name + ": " + trip.message, {{"model", name},
                                                      {"sequences", std::to_string(trip.sequences)},
                                                      {"tokens", std::to_string(trip.tokens)},
                                                      {"longest", std::to_string(trip.longest)},
                                                      {"elapsed_s", fixed(trip.elapsed_s)},
                                                      {"bound_s", fixed(trip.bound_s)}});
  };
}

}  // namespace

ServedModel::ServedModel(const ModelAttachment& attachment, const SchedulerOptions& scheduling,
                         const ServerLog& log)
    : provider_(attachment.provider),
      info_(attachment.provider->model_info()),
      name_(attachment.name.empty() ? info_.model : attachment.name),
      info_labels_(info_labels(name_, info_)),
      created_(unix_now()),
      scheduler_(std::make_unique<Scheduler>(
          *attachment.provider, attachment.scheduling.value_or(scheduling),
          [this](const BatchStats& stats) { metrics_.observe_batch(stats); },
          log_stuck(name_, log))) {}

bool ServedModel::answers_to(std::string_view requested) const noexcept {
  if (requested == name_) return true;
  const auto slash = requested.rfind('/');
  return slash != std::string_view::npos && requested.substr(slash + 1) == name();
}

HealthStatus ServedModel::health() const {
  if (auto device = provider_->device_status(); !device.ok) return device;
  return scheduler_->health();
}

Metrics::ModelState ServedModel::state() const {
  return {name(),
          info_labels_,
          &metrics_,
          {scheduler_->queued_requests(), scheduler_->queued_sequences(), scheduler_->counters()}};
}

void ServedModels::add(std::unique_ptr<ServedModel> model) {
  if (find(model->name()) != nullptr) {
    throw Error(ErrorCode::ModelError,
                "two served models are named '" + model->name() +
                    "'; give one of them another name (--model NAME=DIR, or \"name\" in "
                    "--models-file)");
  }
  models_.push_back(std::move(model));
}

ServedModel* ServedModels::find(std::string_view requested) const noexcept {
  for (const auto& m : models_) {
    if (requested == m->name()) return m.get();
  }
  return nullptr;
}

ServedModel& ServedModels::route(std::string_view requested) const {
  if (requested.empty() || models_.size() == 1) return default_model();
  if (auto* exact = find(requested)) return *exact;
  for (const auto& m : models_) {
    if (m->answers_to(requested)) return *m;
  }
  throw ApiError(404, "invalid_request_error", "model_not_found",
                 "The model '" + printable(requested) +
                     "' does not exist or is not served here; served models: " + names());
}

std::string ServedModels::names() const {
  std::string out;
  for (const auto& m : models_) {
    if (!out.empty()) out += ", ";
    out += m->name();
  }
  return out;
}

void ServedModels::shutdown() const {
  for (const auto& m : models_) m->scheduler().shutdown();
}

}  // namespace akidb::embed::server
