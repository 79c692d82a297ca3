#include "akidb/embed/scheduler.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "akidb/embed/error.hpp"
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

struct Scheduler::Impl {
  EmbeddingProvider& provider;
  SchedulerOptions options;
  scheduling::BatchBudget budget;
  Clock::duration batch_wait{};  // options.max_batch_wait_ms
  std::size_t dimension;         // of every response (read once: model_info() builds strings)
  Observer observer;

  mutable std::mutex mu;
  std::condition_variable cv;
  scheduling::SequenceQueue queue;
  std::size_t in_flight = 0;  // batch runners (workers or callers) holding a slot
  std::uint64_t arrivals = 0;
  bool stopping = false;
  SchedulerCounters counters;
  std::vector<std::jthread> workers;

  Impl(EmbeddingProvider& p, SchedulerOptions o, Observer obs)
      : provider(p), options(o), dimension(p.model_info().dimension), observer(std::move(obs)) {
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
  }

  std::vector<Pick> take_batch(std::unique_lock<std::mutex>& lock,
                               const scheduling::BatchBudget& limits);
  void run_batch(std::vector<Pick>& batch);
  void complete(std::vector<Pick>& batch, const StageTimings& stages);
  void fail(std::vector<Pick>& batch, std::exception_ptr error);
  void settle(Job& job);
  bool batch_ready(std::unique_lock<std::mutex>& lock);
  void work();
  void express();
  void drive();
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

// Outside the lock: one provider call for the whole batch.
void Scheduler::Impl::run_batch(std::vector<Pick>& batch) {
  std::vector<SequenceRef> refs;
  refs.reserve(batch.size());
  for (const auto& pick : batch)
    refs.push_back({&pick.job->admitted, pick.index, pick.job->vectors.row(pick.index).data()});
  StageTimings stages;
  const auto start = Clock::now();
  try {
    provider.embed_sequences(refs, stages);
  } catch (...) {
    fail(batch, std::current_exception());
    return;
  }
  stages.total_us = micros_between(start, Clock::now());
  complete(batch, stages);
}

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

void Scheduler::Impl::complete(std::vector<Pick>& batch, const StageTimings& stages) {
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
  for (Job* job : jobs) {
    ++job->batches;
    add_stages(job->stages, stages);
  }
  for (auto& pick : batch) {
    Job& job = *pick.job;
    if (++job.done == job.size() && !job.settled) settle(job);
  }
  ++counters.batches;
  counters.sequences += batch.size();
  counters.merged_batches += stats.requests > 1 ? 1 : 0;
  counters.max_batch_requests = std::max(counters.max_batch_requests, stats.requests);
}

// The engine failed: every request in the batch gets the error, and loses
// its other inputs at the next batch.
void Scheduler::Impl::fail(std::vector<Pick>& batch, std::exception_ptr error) {
  const std::lock_guard lock(mu);
  for (auto& pick : batch) {
    if (pick.job->settled) continue;
    pick.job->settled = true;
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

void Scheduler::Impl::work() {
  std::unique_lock lock(mu);
  for (;;) {
    cv.wait(lock, [&] { return (stopping || !queue.empty()) && in_flight < options.workers; });
    if (queue.empty()) return;  // stopping, and everything queued is done
    if (!batch_ready(lock)) continue;
    auto batch = take_batch(lock, budget);
    if (batch.empty()) continue;
    ++in_flight;
    lock.unlock();
    run_batch(batch);
    batch.clear();  // drop the job references outside the lock
    lock.lock();
    --in_flight;
    cv.notify_all();
  }
}

// The express lane: runs short inputs only while every worker is busy (an
// idle worker takes them itself, with the whole budget).
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
    lock.unlock();
    run_batch(batch);
    batch.clear();
    lock.lock();
    cv.notify_all();
  }
}

// An idle scheduler's caller runs the first batch itself (holding a runner
// slot): a short request is then done without a hand-off to a worker, and a
// long one goes on in the workers while its caller can watch its client.
void Scheduler::Impl::drive() {
  std::unique_lock lock(mu);
  auto batch = take_batch(lock, budget);
  if (!batch.empty()) {
    lock.unlock();
    run_batch(batch);
    batch.clear();
    lock.lock();
  }
  --in_flight;
  cv.notify_all();
}

Scheduler::Scheduler(EmbeddingProvider& provider, SchedulerOptions options, Observer observer)
    : impl_(std::make_unique<Impl>(provider, options, std::move(observer))) {}

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
    run_here = impl_->batch_wait <= Clock::duration::zero() && impl_->queue.empty() &&
               impl_->in_flight < impl_->options.workers;
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
  impl_->workers.clear();  // joins
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
