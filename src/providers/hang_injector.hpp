#pragma once
// Test hook (ProviderOptions::inject_hang_after, `--inject-hang-after N`):
// a provider whose Nth batch run (embed_sequences; 1: the first) never
// returns, the way an engine that hangs never does, so the scheduler's
// watchdog and the server's bounded drain can be tested against the real
// binary. The hung run waits until the process exits (the server's drain
// timeout ends it with std::_Exit, no destructor runs). Everything else is
// the wrapped provider's.
#include <cstddef>
#include <memory>
#include <mutex>

#include "akidb/embed/provider.hpp"

namespace akidb::embed {

class HangInjector final : public EmbeddingProvider {
 public:
  HangInjector(std::unique_ptr<EmbeddingProvider> inner, std::size_t hang_on_run);

  EmbedResponse embed_batch(const EmbedRequest& request) override;
  ModelInfo model_info() const override;
  HealthStatus health_check() override;
  HealthStatus device_status() const override;
  AdmittedRequest admit(const EmbedRequest& request) const override;
  void embed_sequences(std::span<const SequenceRef> batch, StageTimings& stages) override;
  BatchingHints batching_hints() const override;
  const Tokenizer& tokenizer() const override;

 private:
  std::unique_ptr<EmbeddingProvider> inner_;
  std::size_t hang_on_run_;
  // Guards runs_: each run takes the next number exactly once.
  std::mutex mu_;
  std::size_t runs_ = 0;
};

}  // namespace akidb::embed
