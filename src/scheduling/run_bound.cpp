#include "scheduling/run_bound.hpp"

#include <algorithm>

namespace akidb::embed::scheduling {

RunBound::RunBound(const SchedulerOptions& options)
    : floor_s_(std::max(options.watchdog_floor_s, 0.0)),
      factor_(std::max(options.watchdog_factor, 1.0)),
      fixed_s_(options.watchdog_bound_s) {}

void RunBound::observe(std::size_t padded_tokens, double elapsed_us) {
  if (padded_tokens == 0 || elapsed_us < 0) return;
  const double sample = elapsed_us / static_cast<double>(padded_tokens);
  if (!us_per_token_ || sample >= *us_per_token_) {
    us_per_token_ = sample;
  } else {
    *us_per_token_ += (sample - *us_per_token_) / 10;
  }
}

double RunBound::seconds_for(std::size_t padded_tokens) const {
  if (fixed_s_ > 0) return fixed_s_;
  if (!us_per_token_) return floor_s_ * factor_;  // nothing measured yet
  const double expected_s = *us_per_token_ * static_cast<double>(padded_tokens) / 1e6;
  return std::max(floor_s_, factor_ * expected_s);
}

}  // namespace akidb::embed::scheduling
