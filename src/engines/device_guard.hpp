#pragma once
// The run-time half of the device policy (docs/devices.md), around any
// engine on a device other than the plain CPU: the first device failure
// (an engine error of type Unavailable: a CUDA error, out of device memory,
// a lost GPU) is remembered, every later run fails with the same message at
// once, and device_status() turns not ok, so /health answers 503. The
// process neither crashes nor moves to another device.
//
// Its test hook makes the device fail on a chosen run, exactly as a CUDA
// error would reach it (ProviderOptions::inject_device_failure_after).
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "akidb/embed/engine.hpp"

namespace akidb::embed {

class DeviceGuard final : public InferenceEngine {
 public:
  DeviceGuard(std::unique_ptr<InferenceEngine> engine, std::size_t fail_on_run = 0);

  const EngineCapabilities& capabilities() const noexcept override;
  void run(const SequenceBatch& batch, std::span<float> hidden) override;
  void run_pooled(const SequenceBatch& batch, std::span<float> pooled) override;
  HealthStatus device_status() const override;

 private:
  [[noreturn]] void fail(const std::string& message);
  // Runs one of the engine's run calls under the policy.
  template <class Run>
  void guarded(Run&& run);

  // Invariant: `failure_` is written once, under `mutex_`, before `failed_`
  // turns true (release), and never again (the first failure wins); whoever
  // loads `failed_` true (acquire) then reads `failure_` under `mutex_` and
  // finds it set. `failed_` never turns false. Runs themselves are not
  // serialized here: the engine under the guard does that (or allows them).
  // `runs_` only numbers runs for the test hook: fetch_add hands each run its
  // own number, so exactly one run meets `fail_on_run_`.
  std::unique_ptr<InferenceEngine> engine_;
  std::size_t fail_on_run_;
  std::atomic<std::size_t> runs_{0};
  std::atomic<bool> failed_{false};
  mutable std::mutex mutex_;
  std::string failure_;  // guarded by mutex_
};

}  // namespace akidb::embed
