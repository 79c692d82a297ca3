#pragma once
// The scheduler's policy, without threads: which queued inputs form the next
// batch. Not thread-safe; the scheduler holds its lock around every call.
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "scheduling/job.hpp"

namespace akidb::embed::scheduling {

struct BatchBudget {
  std::size_t max_tokens = 512;  // padded tokens when `padded`, else real tokens
  std::size_t max_sequences = 256;
  bool padded = true;
  std::size_t max_length = 0;  // > 0: only inputs of at most this many tokens
};

// One input picked for a batch.
struct Pick {
  std::shared_ptr<Job> job;
  std::uint32_t index = 0;  // the input's index in its request
};

class SequenceQueue {
 public:
  void push(std::shared_ptr<Job> job);

  // Removes the jobs that are cancelled, past their deadline (at `now`) or
  // already settled (failed), and returns them.
  std::vector<std::shared_ptr<Job>> take_dead(SchedulerClock::time_point now);
  // Removes every job and returns them (the watchdog fails them all).
  std::vector<std::shared_ptr<Job>> take_all() noexcept { return std::exchange(jobs_, {}); }

  // The next batch (empty when nothing is queued). The job served least so
  // far (ties: the oldest) leads with its shortest pending input, except that
  // jobs past half of their time budget (admission to deadline) at `now` go
  // first, oldest first; the batch is filled in that order with inputs of the
  // same power-of-two length bucket, then of the neighbouring buckets, under
  // the budget. The first pick always fits. Jobs with nothing left to
  // dispatch leave the queue.
  std::vector<Pick> next_batch(const BatchBudget& budget, SchedulerClock::time_point now);

  // When the next batch should start if the scheduler waits up to `wait`
  // for more inputs: time_point::min() (at once) when the queued inputs
  // already fill the budget, else the oldest job's admission + `wait`, or
  // the earliest deadline when that comes sooner (the job is dropped then).
  SchedulerClock::time_point ready_at(const BatchBudget& budget,
                                      SchedulerClock::duration wait) const;

  // True when some job's next input has at most `max_length` tokens.
  bool has_input_up_to(std::size_t max_length) const noexcept;
  bool empty() const noexcept { return jobs_.empty(); }
  std::size_t requests() const noexcept { return jobs_.size(); }
  std::size_t sequences() const noexcept;

 private:
  std::vector<std::shared_ptr<Job>> jobs_;  // in arrival order
};

}  // namespace akidb::embed::scheduling
