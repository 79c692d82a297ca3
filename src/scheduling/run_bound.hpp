#pragma once
// How long one engine run may take before the watchdog calls it stuck
// (SchedulerOptions::watchdog_*). Not thread-safe; the scheduler holds its
// lock around every call.
#include <cstddef>
#include <optional>

#include "akidb/embed/scheduler.hpp"

namespace akidb::embed::scheduling {

class RunBound {
 public:
  explicit RunBound(const SchedulerOptions& options);

  // A run of `padded_tokens` (inputs x longest) took `elapsed_us`. The
  // estimate of microseconds per padded token rises at once to a slower
  // sample and falls by a tenth of the gap per faster one: a machine that
  // gets loaded raises the bound before the next run, never after.
  void observe(std::size_t padded_tokens, double elapsed_us);
  // The bound, in seconds, for a run of `padded_tokens`.
  double seconds_for(std::size_t padded_tokens) const;
  std::optional<double> us_per_token() const noexcept { return us_per_token_; }

 private:
  double floor_s_;
  double factor_;
  double fixed_s_;  // > 0: every run's bound
  std::optional<double> us_per_token_;
};

}  // namespace akidb::embed::scheduling
