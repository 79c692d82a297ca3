#pragma once
// The scheduler: requests are admitted (validated and tokenized, with exact
// token counts) on the caller's thread, then each of their inputs is a queue
// entry. Batches are formed from the entries of any request under a token
// budget: the request that has been served least goes first (ties by
// arrival), and its batch is filled with entries of similar length from any
// request. So a large request interleaves with small ones instead of
// stalling them, and a request completes when all its inputs are done.
//
// A cancelled request (client gone) or one past its deadline loses its
// remaining entries before the next batch is formed: it costs at most the
// batch already running (or the rest of a batch wait, max_batch_wait_ms).
//
// The watchdog: one engine run (one batch) that takes longer than its bound
// (derived from the engine's measured speed, see SchedulerOptions) marks the
// scheduler stuck, for good: the stuck batch's requests, every other running
// batch's and everything queued fail at once with Error(Unavailable, "the
// engine is stuck: ..."), every later submit() too, health() turns not ok, and
// the on_stuck observer is told once. The run itself cannot be stopped; its
// late return (if ever) changes nothing. With the watchdog on, batches run on
// the scheduler's own threads only (never on a submitting caller's), so a
// stuck run never holds a caller that must be answered.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "akidb/embed/provider.hpp"
#include "akidb/embed/types.hpp"

namespace akidb::embed {

using SchedulerClock = std::chrono::steady_clock;

struct SchedulerOptions {
  // Tokens per scheduled batch, counted as the provider counts them (padded
  // tokens for a padding engine); 0: the provider's batching hint. Each
  // batch is one engine run: small batches keep a short request's wait short.
  std::size_t max_batch_tokens = 0;
  std::size_t max_batch_sequences = 256;
  std::size_t max_queue = 1024;  // requests with inputs still queued; beyond: Unavailable
  std::size_t workers = 1;       // batches run at once (the engine already uses every core)
  // The express lane: while every worker runs a batch, one more runner may
  // start a batch of inputs of at most this many tokens, so a short request
  // shares the cores with a long batch instead of waiting for it. 0: off.
  std::size_t express_max_tokens = 64;
  // A worker that finds fewer queued inputs than fill a batch waits up to
  // this long, counted from the oldest queued request's admission, for more
  // to arrive (on a GPU a batch costs little more than one input). Never when
  // the queued inputs already fill the budget; a deadline ends the wait.
  // Negative: the device's default, 2 ms on a GPU (model_info().device other
  // than "cpu"), 0 (no wait: a lone request runs at once) on a CPU.
  double max_batch_wait_ms = -1;
  // The watchdog (docs/server.md, "Watchdog"). A run's bound is
  //   max(watchdog_floor_s, watchdog_factor * expected time of its padded tokens)
  // at the measured speed (microseconds per padded token of the completed
  // batches: it rises at once with a slower batch and falls slowly). Before
  // any batch completed: watchdog_floor_s * watchdog_factor. The defaults
  // are generous (a loaded, shared 2-core machine is nowhere near them): a
  // run that trips them is stuck, not slow.
  bool watchdog = true;
  double watchdog_floor_s = 10;
  double watchdog_factor = 50;
  // > 0: this bound for every run instead (tests, or an operator who knows).
  double watchdog_bound_s = 0;
};

// The batch the watchdog found stuck (for the server's log line).
struct WatchdogTrip {
  std::size_t sequences = 0;
  std::size_t tokens = 0;   // real tokens
  std::size_t longest = 0;  // tokens of its longest input
  double elapsed_s = 0;     // how long it had run when the watchdog tripped
  double bound_s = 0;
  std::string message;  // what requests and /health say
};

// What one batch looked like (for metrics).
struct BatchStats {
  std::size_t requests = 0;   // distinct requests with inputs in the batch
  std::size_t sequences = 0;  // inputs in the batch
  std::size_t tokens = 0;     // real tokens
  StageTimings stages;
};

struct SchedulerCounters {
  std::size_t batches = 0;
  std::size_t sequences = 0;            // inputs run
  std::size_t requests = 0;             // requests completed
  std::size_t merged_batches = 0;       // batches holding inputs of more than one request
  std::size_t max_batch_requests = 0;   // most requests seen in one batch
  std::size_t cancelled_requests = 0;   // cancelled by their client or past their deadline
  std::size_t cancelled_sequences = 0;  // inputs of those that were never run
  std::size_t rejected = 0;             // refused because the queue was full
  std::size_t immediate = 0;            // run on the caller's thread by an idle scheduler
  std::size_t express_batches = 0;      // run by the express lane
  std::size_t failed_requests = 0;      // failed by an engine error or the watchdog
  std::size_t watchdog_trips = 0;       // 1 once the watchdog found a run stuck (sticky)
};

struct ScheduledResponse {
  EmbedResponse response;
  double queue_us = 0;      // admission to the first batch holding one of its inputs
  std::size_t batches = 0;  // batches its inputs ran in
};

// One submitted request; the caller keeps it to wait or cancel.
class Ticket {
 public:
  Ticket(std::future<ScheduledResponse> future, std::shared_ptr<std::atomic<bool>> cancelled)
      : future_(std::move(future)), cancelled_(std::move(cancelled)) {}

  // Waits until the response is ready or the deadline passes. On timeout the
  // request is cancelled and Error(Timeout) is thrown. Engine errors rethrow.
  ScheduledResponse wait(std::optional<SchedulerClock::time_point> deadline = std::nullopt);
  // True once wait() would return (or throw) without blocking.
  bool ready_within(std::chrono::milliseconds timeout) const;
  // The client is gone: its inputs not yet run are dropped. The flag
  // carries no other data, so relaxed order suffices: the scheduler reads it
  // (under its lock) each time it forms a batch, and drops the request, once,
  // when it sees it; the request is settled under that lock as on every path.
  void cancel() noexcept { cancelled_->store(true, std::memory_order_relaxed); }

 private:
  std::future<ScheduledResponse> future_;
  std::shared_ptr<std::atomic<bool>> cancelled_;
};

class Scheduler {
 public:
  using Observer = std::function<void(const BatchStats&)>;
  using StuckObserver = std::function<void(const WatchdogTrip&)>;

  // `on_stuck` is called once, on the watchdog's thread, when it trips.
  Scheduler(EmbeddingProvider& provider, SchedulerOptions options, Observer observer = {},
            StuckObserver on_stuck = {});
  ~Scheduler();  // shutdown()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Admits the request on the calling thread (Error(InvalidInput) for bad
  // input), then queues its inputs. Throws Error(Unavailable) at once when
  // the queue is full or the scheduler is shutting down, Error(Timeout) when
  // the deadline has already passed. An idle scheduler runs the request's
  // first batch on the calling thread, sparing a hand-off.
  std::shared_ptr<Ticket> submit(EmbedRequest request,
                                 std::optional<SchedulerClock::time_point> deadline = std::nullopt);
  // submit() + wait().
  ScheduledResponse embed(EmbedRequest request,
                          std::optional<SchedulerClock::time_point> deadline = std::nullopt);

  // Stops taking requests, finishes everything queued, joins the workers.
  // Blocks while an engine run has not returned (even after the watchdog
  // tripped: a thread inside the engine cannot be stopped); a server bounds
  // its whole drain instead (`serve --drain-timeout-s`).
  void shutdown();
  // Not ok, with the watchdog's message, once a run was found stuck.
  HealthStatus health() const;

  std::size_t queued_sequences() const;
  std::size_t queued_requests() const;
  SchedulerCounters counters() const;
  // The options in force (a budget of 0 resolved to the provider's hint).
  const SchedulerOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
