#include "providers/hang_injector.hpp"

#include <chrono>
#include <thread>

namespace akidb::embed {

HangInjector::HangInjector(std::unique_ptr<EmbeddingProvider> inner, std::size_t hang_on_run)
    : inner_(std::move(inner)), hang_on_run_(hang_on_run) {}

EmbedResponse HangInjector::embed_batch(const EmbedRequest& request) {
  return inner_->embed_batch(request);
}
ModelInfo HangInjector::model_info() const { return inner_->model_info(); }
HealthStatus HangInjector::health_check() { return inner_->health_check(); }
HealthStatus HangInjector::device_status() const { return inner_->device_status(); }
AdmittedRequest HangInjector::admit(const EmbedRequest& request) const {
  return inner_->admit(request);
}
BatchingHints HangInjector::batching_hints() const { return inner_->batching_hints(); }
const Tokenizer& HangInjector::tokenizer() const { return inner_->tokenizer(); }

void HangInjector::embed_sequences(std::span<const SequenceRef> batch, StageTimings& stages) {
  bool hang = false;
  {
    const std::lock_guard lock(mu_);
    hang = ++runs_ == hang_on_run_;
  }
  // Sleeping in a loop, not spinning: a hung engine that burns a core would
  // slow the rest of the test, not test anything more.
  while (hang) std::this_thread::sleep_for(std::chrono::hours(1));
  inner_->embed_sequences(batch, stages);
}

}  // namespace akidb::embed
