#include "akidb/embed/scheduler.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <list>
#include <mutex>
#include <thread>
#include <vector>

#include "akidb/embed/error.hpp"
#include "scheduling/run_bound.hpp"
#include "scheduling/sequence_queue.hpp"

namespace akidb::embed {
namespace {

using scheduling::Job;
using scheduling::Pick;
using Clock = SchedulerClock;

// A GPU's batch wait unless --max-batch-wait-ms says otherwise: the issue's
// "a few ms", about one short batch's time; chosen without a GPU to measure
// (scripts/gpu_check.sh runs the HTTP load with it and without).
constexpr double kGpuBatchWaitMs = 2.0;

double micros_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

void add_stages(StageTimings& into, const StageTimings& batch) {
  into.tensor_us += batch.tensor_us;
  into.inference_us += batch.inference_us;
  into.pool_us += batch.pool_us;
  into.normalize_us += batch.normalize_us;
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

Error dead_error(const Job& job, Clock::time_point now) {
  if (job.deadline && *job.deadline <= now)
    return Error(ErrorCode::Timeout, "the request did not finish before its deadline");
  return Error(ErrorCode::Unavailable, "the request was cancelled by its client");
}

}  // namespace

ScheduledResponse Ticket::wait(std::optional<SchedulerClock::time_point> deadline) {
  if (deadline && future_.wait_until(*deadline) == std::future_status::timeout) {
    cancel();
    throw Error(ErrorCode::Timeout, "the request did not finish before its deadline");
  }
  return future_.get();
}

bool Ticket::ready_within(std::chrono::milliseconds timeout) const {
  return future_.wait_for(timeout) == std::future_status::ready;
}

// One batch inside the engine, registered (under the lock) by the runner
// that took it before it lets go of the lock, and erased by that runner
// (under the lock) when the run returned.
struct RunningBatch {
  std::vector<std::shared_ptr<Job>> jobs;  // distinct
  std::size_t sequences = 0;
  std::size_t tokens = 0;
  std::size_t longest = 0;
  Clock::time_point started;
  Clock::time_point due;  // started + the run's bound: stuck after it
  double bound_s = 0;
};

struct Scheduler::Impl {
  EmbeddingProvider& provider;
  SchedulerOptions options;
  scheduling::BatchBudget budget;
  Clock::duration batch_wait{};  // options.max_batch_wait_ms
  std::size_t dimension;         // of every response (read once: model_info() builds strings)
  Observer observer;
  StuckObserver on_stuck;

  // The lock protocol. `mu` guards every member below it but the threads.
  // `cv` is notified after every change a waiting runner may be waiting
  // for (a push, a runner slot freed, stopping, the watchdog's trip); every
  // wait rechecks its whole condition. `watch_cv` wakes the watchdog when a
  // batch starts (its due time may be the earliest) or when it must stop.
  // A Job's mutable fields (dispatched, done, settled, batches, stages,
  // first_batch_at) change only under `mu`; its vectors' rows are written
  // by exactly one run each (an input is dispatched once), outside `mu`,
  // and read by settle() under `mu` after that run's complete() took `mu`.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::condition_variable watch_cv;
  scheduling::SequenceQueue queue;
  // Runners in a worker slot: the workers, and with the watchdog off the
  // caller of an idle scheduler (drive()). A slot is taken and given back
  // under `mu`, and given back only after the run returned: in_flight <=
  // options.workers always. The express lane runs without a slot.
  std::size_t in_flight = 0;
  std::uint64_t arrivals = 0;
  bool stopping = false;
  bool watchdog_stopping = false;
  // Set once, by the watchdog's trip, never cleared (sticky).
  std::optional<std::string> stuck;
  SchedulerCounters counters;
  scheduling::RunBound run_bound;
  std::list<RunningBatch> running;  // batches inside the engine now
  std::vector<std::jthread> workers;
  std::jthread watchdog_thread;  // joined after the workers: it may trip while they drain

  Impl(EmbeddingProvider& p, SchedulerOptions o, Observer obs, StuckObserver stuck_obs)
      : provider(p),
        options(o),
        dimension(p.model_info().dimension),
        observer(std::move(obs)),
        on_stuck(std::move(stuck_obs)),
        run_bound(o) {
    const auto hints = provider.batching_hints();
    options.workers = std::max<std::size_t>(options.workers, 1);
    if (options.max_batch_tokens == 0) options.max_batch_tokens = hints.max_batch_tokens;
    if (options.max_batch_wait_ms < 0)
      options.max_batch_wait_ms = p.model_info().device == "cpu" ? 0.0 : kGpuBatchWaitMs;
    batch_wait = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(options.max_batch_wait_ms));
    options.max_batch_sequences = std::max<std::size_t>(options.max_batch_sequences, 1);
    budget = {options.max_batch_tokens,
              hints.batch_invariant ? options.max_batch_sequences : std::size_t{1}, hints.padded};
    for (std::size_t i = 0; i < options.workers; ++i) workers.emplace_back([this] { work(); });
    if (options.express_max_tokens > 0 && hints.batch_invariant)
      workers.emplace_back([this] { express(); });
    if (options.watchdog) watchdog_thread = std::jthread([this] { watch(); });
  }

  std::vector<Pick> take_batch(std::unique_lock<std::mutex>& lock,
                               const scheduling::BatchBudget& limits);
  std::list<RunningBatch>::iterator start_run(const std::vector<Pick>& batch);
  void run_batch(std::vector<Pick>& batch, std::list<RunningBatch>::iterator record,
                 Clock::time_point started);
  void run_unlocked(std::unique_lock<std::mutex>& lock, std::vector<Pick>& batch);
  void complete(std::vector<Pick>& batch, const StageTimings& stages,
                std::list<RunningBatch>::iterator record);
  void fail(std::vector<Pick>& batch, std::exception_ptr error);
  void settle(Job& job);
  bool batch_ready(std::unique_lock<std::mutex>& lock);
  void work();
  void express();
  void drive();
  void watch();
  std::optional<WatchdogTrip> trip_if_due(Clock::time_point now);
  void stop_watchdog();
};

// Under the lock: drops dead jobs, then forms the next batch.
std::vector<Pick> Scheduler::Impl::take_batch(std::unique_lock<std::mutex>&,
                                              const scheduling::BatchBudget& limits) {
  const auto now = Clock::now();
  for (auto& job : queue.take_dead(now)) {
    if (job->settled) continue;  // failed earlier: its caller already has the error
    ++counters.cancelled_requests;
    counters.cancelled_sequences += job->pending();
    job->settled = true;
    job->promise.set_exception(std::make_exception_ptr(dead_error(*job, now)));
  }
  auto batch = queue.next_batch(limits, now);
  for (auto& pick : batch) {
    if (!pick.job->first_batch_at) pick.job->first_batch_at = now;
  }
  return batch;
}

// Under the lock: registers the batch with the watchdog, due after its bound.
std::list<RunningBatch>::iterator Scheduler::Impl::start_run(const std::vector<Pick>& batch) {
  RunningBatch run;
  run.sequences = batch.size();
  for (const auto& pick : batch) {
    const std::size_t length = pick.job->admitted.encodings[pick.index].ids.size();
    run.tokens += length;
    run.longest = std::max(run.longest, length);
    if (std::find(run.jobs.begin(), run.jobs.end(), pick.job) == run.jobs.end())
      run.jobs.push_back(pick.job);
  }
  run.bound_s = run_bound.seconds_for(run.sequences * run.longest);
  run.started = Clock::now();
  run.due = run.started +
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(run.bound_s));
  running.push_back(std::move(run));
  return std::prev(running.end());
}

// Called with the lock held; runs the batch without it and returns with it.
void Scheduler::Impl::run_unlocked(std::unique_lock<std::mutex>& lock, std::vector<Pick>& batch) {
  const auto record = start_run(batch);
  const auto started = record->started;  // the record itself is read under `mu` only
  lock.unlock();
  watch_cv.notify_all();  // its due time may be the earliest (see watch())
  run_batch(batch, record, started);
  batch.clear();  // drop the job references outside the lock
  lock.lock();
}

// Outside the lock: one provider call for the whole batch; complete() or
// fail() then erase `record` under the lock.
void Scheduler::Impl::run_batch(std::vector<Pick>& batch, std::list<RunningBatch>::iterator record,
                                Clock::time_point started) {
  std::vector<SequenceRef> refs;
  refs.reserve(batch.size());
  for (const auto& pick : batch)
    refs.push_back({&pick.job->admitted, pick.index, pick.job->vectors.row(pick.index).data()});
  StageTimings stages;
  try {
    provider.embed_sequences(refs, stages);
  } catch (...) {
    const std::lock_guard lock(mu);
    running.erase(record);
    fail(batch, std::current_exception());
    return;
  }
  stages.total_us = micros_between(started, Clock::now());
  complete(batch, stages, record);
}

// Under the lock.
void Scheduler::Impl::settle(Job& job) {
  job.settled = true;
  job.stages.queue_us =
      micros_between(job.admitted_at, job.first_batch_at.value_or(job.admitted_at));
  job.stages.total_us = micros_between(job.admitted_at, Clock::now()) + job.admitted.tokenize_us;
  ScheduledResponse out{make_response(job.admitted, std::move(job.vectors), job.stages),
                        job.stages.queue_us, job.batches};
  ++counters.requests;
  job.promise.set_value(std::move(out));
}

void Scheduler::Impl::complete(std::vector<Pick>& batch, const StageTimings& stages,
                               std::list<RunningBatch>::iterator record) {
  BatchStats stats{0, batch.size(), 0, stages};
  std::vector<Job*> jobs;  // distinct, in batch order
  for (const auto& pick : batch) {
    stats.tokens += pick.job->admitted.encodings[pick.index].ids.size();
    if (std::find(jobs.begin(), jobs.end(), pick.job.get()) == jobs.end())
      jobs.push_back(pick.job.get());
  }
  stats.requests = jobs.size();
  if (observer) {
    try {
      observer(stats);  // before any request completes, so metrics never lag a response
    } catch (...) {
      // Metrics must never fail a request.
    }
  }
  const std::lock_guard lock(mu);
  // A run that returns after the trip measured a stuck engine, not its speed.
  if (!stuck) run_bound.observe(record->sequences * record->longest, stages.total_us);
  running.erase(record);
  for (Job* job : jobs) {
    ++job->batches;
    add_stages(job->stages, stages);
  }
  // A job is settled exactly once: `settled` is read and set under `mu` by
  // every path that settles (settle, fail, take_batch's dead jobs, the
  // watchdog's trip), so a batch returning after its job failed (an engine
  // error elsewhere, a deadline, the watchdog) only counts its inputs done.
  for (auto& pick : batch) {
    Job& job = *pick.job;
    if (++job.done == job.size() && !job.settled) settle(job);
  }
  ++counters.batches;
  counters.sequences += batch.size();
  counters.merged_batches += stats.requests > 1 ? 1 : 0;
  counters.max_batch_requests = std::max(counters.max_batch_requests, stats.requests);
}

// Under the lock. The engine failed: every request in the batch gets the
// error, and loses its other inputs at the next batch.
void Scheduler::Impl::fail(std::vector<Pick>& batch, std::exception_ptr error) {
  for (auto& pick : batch) {
    if (pick.job->settled) continue;
    pick.job->settled = true;
    ++counters.failed_requests;
    pick.job->promise.set_exception(error);
  }
}

// Under the lock, with inputs queued: true when a batch should start now
// (no batch wait, the queue fills a batch, the oldest input has waited
// batch_wait, or stopping); else waits (lock released) until then or until
// something changes, and returns false to have the caller look again.
bool Scheduler::Impl::batch_ready(std::unique_lock<std::mutex>& lock) {
  if (batch_wait <= Clock::duration::zero() || stopping) return true;
  const auto ready = queue.ready_at(budget, batch_wait);
  if (ready <= Clock::now()) return true;
  cv.wait_until(lock, ready);
  return false;
}

// A worker: takes a slot (in_flight < workers) for each batch it runs and
// gives it back after the run returned. It returns once stopping and
// nothing is queued, so shutdown() finishes everything queued first.
void Scheduler::Impl::work() {
  std::unique_lock lock(mu);
  for (;;) {
    cv.wait(lock, [&] { return (stopping || !queue.empty()) && in_flight < options.workers; });
    if (queue.empty()) return;  // stopping, and everything queued is done
    if (!batch_ready(lock)) continue;
    auto batch = take_batch(lock, budget);
    if (batch.empty()) continue;
    ++in_flight;
    run_unlocked(lock, batch);
    --in_flight;
    cv.notify_all();
  }
}

// The express lane: runs short inputs only while every worker is busy (an
// idle worker takes them itself, with the whole budget). It takes no slot,
// so at most workers + 1 batches run at once.
void Scheduler::Impl::express() {
  auto limits = budget;
  limits.max_length = options.express_max_tokens;
  std::unique_lock lock(mu);
  for (;;) {
    cv.wait(lock, [&] {
      return (stopping && queue.empty()) ||
             (in_flight >= options.workers && queue.has_input_up_to(limits.max_length));
    });
    if (stopping && queue.empty()) return;
    auto batch = take_batch(lock, limits);
    if (batch.empty()) continue;
    ++counters.express_batches;
    run_unlocked(lock, batch);
    cv.notify_all();
  }
}

// With the watchdog off, an idle scheduler's caller runs the first batch
// itself, in the slot submit() took for it: a short request is then done
// without a hand-off to a worker, and a long one goes on in the workers
// while its caller can watch its client. (With the watchdog on, a stuck run
// would hold the very caller that must answer its request: never.)
void Scheduler::Impl::drive() {
  std::unique_lock lock(mu);
  auto batch = take_batch(lock, budget);
  if (!batch.empty()) run_unlocked(lock, batch);
  --in_flight;
  cv.notify_all();
}

// Under the lock: trips when a running batch is past its due time. Sticky:
// once `stuck`, never again. Fails every request of every running batch
// (they share the stuck engine), everything queued, and (through `stuck`)
// every later submit.
std::optional<WatchdogTrip> Scheduler::Impl::trip_if_due(Clock::time_point now) {
  if (stuck) return std::nullopt;
  const auto late = std::find_if(running.begin(), running.end(),
                                 [&](const RunningBatch& run) { return run.due <= now; });
  if (late == running.end()) return std::nullopt;
  WatchdogTrip trip{late->sequences, late->tokens,
                    late->longest,   seconds_between(late->started, now),
                    late->bound_s,   {}};
  char shape[160];
  std::snprintf(shape, sizeof shape,
                "a batch of %zu inputs (%zu tokens, longest %zu) has run for %.1f s, over its "
                "bound of %.1f s",
                trip.sequences, trip.tokens, trip.longest, trip.elapsed_s, trip.bound_s);
  trip.message = "the engine is stuck: " + std::string(shape) +
                 "; this model fails every request until the server is restarted";
  stuck = trip.message;
  ++counters.watchdog_trips;
  const auto error = std::make_exception_ptr(Error(ErrorCode::Unavailable, trip.message));
  const auto settle_with_error = [&](Job& job) {
    if (job.settled) return;
    job.settled = true;
    ++counters.failed_requests;
    job.promise.set_exception(error);
  };
  for (auto& run : running) {
    for (auto& job : run.jobs) settle_with_error(*job);
  }
  for (auto& job : queue.take_all()) settle_with_error(*job);
  return trip;
}

// The watchdog. Invariant: whenever it sleeps, it wakes no later than the
// earliest due time of the batches running then; a batch registered later
// notifies `watch_cv` after start_run() (under `mu`, which the watchdog
// holds from its check until its wait begins), so no due time is missed.
void Scheduler::Impl::watch() {
  std::unique_lock lock(mu);
  while (!watchdog_stopping) {
    auto earliest = Clock::time_point::max();
    for (const auto& run : running) earliest = std::min(earliest, run.due);
    const auto now = Clock::now();
    if (!stuck && earliest <= now) {
      const auto trip = trip_if_due(now);
      lock.unlock();
      cv.notify_all();  // the queue emptied; runners waiting for it look again
      if (trip && on_stuck) {
        try {
          on_stuck(*trip);
        } catch (...) {
          // A failed log line must not take the watchdog down.
        }
      }
      lock.lock();
      continue;
    }
    if (stuck || earliest == Clock::time_point::max()) {
      watch_cv.wait(lock);
    } else {
      watch_cv.wait_until(lock, earliest);
    }
  }
}

void Scheduler::Impl::stop_watchdog() {
  {
    const std::lock_guard lock(mu);
    watchdog_stopping = true;
  }
  watch_cv.notify_all();
  watchdog_thread = {};  // joins
}

Scheduler::Scheduler(EmbeddingProvider& provider, SchedulerOptions options, Observer observer,
                     StuckObserver on_stuck)
    : impl_(std::make_unique<Impl>(provider, options, std::move(observer), std::move(on_stuck))) {}

Scheduler::~Scheduler() { shutdown(); }

std::shared_ptr<Ticket> Scheduler::submit(EmbedRequest request,
                                          std::optional<SchedulerClock::time_point> deadline) {
  if (deadline && *deadline <= Clock::now())
    throw Error(ErrorCode::Timeout, "the request's deadline passed before it was queued");
  auto job = std::make_shared<Job>();
  job->request = std::move(request);
  job->admitted = impl_->provider.admit(job->request);  // InvalidInput goes to the caller
  job->vectors = Embeddings(job->admitted.size(), impl_->dimension);
  job->plan_order();
  job->deadline = deadline;
  auto ticket = std::make_shared<Ticket>(job->promise.get_future(), job->cancelled);
  bool run_here = false;
  {
    const std::lock_guard lock(impl_->mu);
    if (impl_->stuck) throw Error(ErrorCode::Unavailable, *impl_->stuck);
    if (impl_->stopping) throw Error(ErrorCode::Unavailable, "the server is shutting down");
    if (impl_->queue.requests() >= impl_->options.max_queue) {
      ++impl_->counters.rejected;
      throw Error(ErrorCode::Unavailable, "the request queue is full (" +
                                              std::to_string(impl_->options.max_queue) +
                                              " requests); retry later");
    }
    job->arrival = impl_->arrivals++;
    job->admitted_at = Clock::now();
    // With a batch wait, a worker waits for company; the caller does not.
    // With the watchdog, the scheduler's threads run every batch (drive()).
    run_here = !impl_->options.watchdog && impl_->batch_wait <= Clock::duration::zero() &&
               impl_->queue.empty() && impl_->in_flight < impl_->options.workers;
    impl_->queue.push(job);
    if (run_here) {
      ++impl_->in_flight;
      ++impl_->counters.immediate;
    }
  }
  if (run_here) {
    impl_->drive();
  } else {
    impl_->cv.notify_all();  // a worker, or the express lane when the workers are busy
  }
  return ticket;
}

ScheduledResponse Scheduler::embed(EmbedRequest request,
                                   std::optional<SchedulerClock::time_point> deadline) {
  return submit(std::move(request), deadline)->wait(deadline);
}

void Scheduler::shutdown() {
  {
    const std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->workers.clear();  // joins; the watchdog keeps watching their last runs
  impl_->stop_watchdog();
}

HealthStatus Scheduler::health() const {
  const std::lock_guard lock(impl_->mu);
  if (impl_->stuck) return {false, *impl_->stuck};
  return {true, {}};
}

std::size_t Scheduler::queued_sequences() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->queue.sequences();
}

std::size_t Scheduler::queued_requests() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->queue.requests();
}

SchedulerCounters Scheduler::counters() const {
  const std::lock_guard lock(impl_->mu);
  return impl_->counters;
}

const SchedulerOptions& Scheduler::options() const noexcept { return impl_->options; }

}  // namespace akidb::embed
