#include "engines/device_guard.hpp"

#include "akidb/embed/error.hpp"

namespace akidb::embed {

DeviceGuard::DeviceGuard(std::unique_ptr<InferenceEngine> engine, std::size_t fail_on_run)
    : engine_(std::move(engine)), fail_on_run_(fail_on_run) {}

const EngineCapabilities& DeviceGuard::capabilities() const noexcept {
  return engine_->capabilities();
}

void DeviceGuard::fail(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (failure_.empty()) failure_ = message;
  }
  failed_.store(true, std::memory_order_release);
  throw Error(ErrorCode::Unavailable, message);
}

template <class Run>
void DeviceGuard::guarded(Run&& run) {
  if (failed_.load(std::memory_order_acquire)) {
    std::lock_guard lock(mutex_);
    throw Error(ErrorCode::Unavailable, failure_);
  }
  const auto device = engine_->capabilities().device;
  if (fail_on_run_ != 0 && runs_.fetch_add(1) + 1 == fail_on_run_) {
    fail("device " + device + " failed: injected device failure (test hook, run " +
         std::to_string(fail_on_run_) + ")");
  }
  try {
    run();
  } catch (const Error& e) {
    if (e.code() != ErrorCode::Unavailable) throw;
    fail("device " + device + " failed: " + e.what());
  }
}

void DeviceGuard::run(const SequenceBatch& batch, std::span<float> hidden) {
  guarded([&] { engine_->run(batch, hidden); });
}

void DeviceGuard::run_pooled(const SequenceBatch& batch, std::span<float> pooled) {
  guarded([&] { engine_->run_pooled(batch, pooled); });
}

HealthStatus DeviceGuard::device_status() const {
  if (!failed_.load(std::memory_order_acquire)) return {true, {}};
  std::lock_guard lock(mutex_);
  return {false, failure_};
}

}  // namespace akidb::embed
