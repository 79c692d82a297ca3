#include <algorithm>
#include <bit>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "akidb/embed/batcher.hpp"
#include "akidb/embed/error.hpp"

namespace akidb::embed {
namespace {

using Texts = std::vector<std::string>;
using Ids = std::vector<TokenIds>;

// One queued request.
struct Pending {
  EmbedRequest request;
  std::promise<BatchedResponse> promise;
  std::shared_ptr<BatchTicket> ticket;
  BatchClock::time_point enqueued;
  std::optional<BatchClock::time_point> deadline;
  std::size_t longest = 0;  // estimated tokens of the longest input
  unsigned bucket = 0;      // power-of-two length bucket of `longest`
  unsigned key = 0;         // input kind + options: only equal keys merge
};

unsigned options_key(const EmbedRequest& request) {
  const unsigned kind = std::holds_alternative<Ids>(request.inputs) ? 1U : 0U;
  return kind * 4U + (request.truncate ? 2U : 0U) + (request.normalize ? 1U : 0U);
}

double micros_between(BatchClock::time_point from, BatchClock::time_point to) {
  return std::chrono::duration<double, std::micro>(to - from).count();
}

template <class T>
void fail(std::promise<T>& promise, const Error& error) {
  promise.set_exception(std::make_exception_ptr(error));
}

// Moves every request's inputs into one request (same options as the first).
EmbedRequest merge_inputs(std::vector<Pending>& batch) {
  EmbedRequest merged;
  merged.truncate = batch.front().request.truncate;
  merged.normalize = batch.front().request.normalize;
  auto append = [&](auto& all) {
    using Vec = std::decay_t<decltype(all)>;
    for (auto& p : batch) {
      auto& items = std::get<Vec>(p.request.inputs);
      std::move(items.begin(), items.end(), std::back_inserter(all));
    }
  };
  if (std::holds_alternative<Ids>(batch.front().request.inputs)) {
    Ids all;
    append(all);
    merged.inputs = std::move(all);
  } else {
    Texts all;
    append(all);
    merged.inputs = std::move(all);
  }
  return merged;
}

// Gives each request its inputs back (after a failed merged call).
void restore_inputs(std::vector<Pending>& batch, EmbedRequest& merged) {
  std::size_t offset = 0;
  std::visit(
      [&](auto& all) {
        using Vec = std::decay_t<decltype(all)>;
        for (auto& p : batch) {
          auto& items = std::get<Vec>(p.request.inputs);
          const auto n = items.size();
          for (std::size_t i = 0; i < n; ++i) items[i] = std::move(all[offset + i]);
          offset += n;
        }
      },
      merged.inputs);
}

// Rows [offset, offset + n) of a merged response, as a response of their own.
EmbedResponse slice(const EmbedResponse& all, std::size_t offset, std::size_t n) {
  EmbedResponse out;
  const std::size_t dim = all.embeddings.dimension();
  out.embeddings = Embeddings(n, dim);
  for (std::size_t i = 0; i < n; ++i) {
    const auto row = all.embeddings.row(offset + i);
    std::copy(row.begin(), row.end(), out.embeddings.row(i).begin());
  }
  const auto& tokens = all.usage.input_tokens;
  if (tokens.size() >= offset + n) {
    out.usage.input_tokens.assign(tokens.begin() + static_cast<std::ptrdiff_t>(offset),
                                  tokens.begin() + static_cast<std::ptrdiff_t>(offset + n));
  }
  for (auto t : out.usage.input_tokens) out.usage.prompt_tokens += t;
  out.usage.wall_ms = all.usage.wall_ms;
  out.usage.stages = all.usage.stages;
  return out;
}

std::size_t default_estimate(std::string_view text) { return text.size() / 4 + 2; }

}  // namespace

BatchedResponse BatchTicket::wait(std::optional<BatchClock::time_point> deadline) {
  if (deadline && future_.wait_until(*deadline) == std::future_status::timeout) {
    cancel();
    throw Error(ErrorCode::Timeout, "the request did not finish before its deadline");
  }
  return future_.get();
}

struct DynamicBatcher::Impl {
  EmbeddingProvider& provider;
  BatcherOptions options;
  Observer observer;
  TokenEstimator estimator;
  std::size_t max_tokens = 0;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> queue;
  std::size_t queued_tokens = 0;  // sum over queued requests of inputs * longest
  std::size_t in_flight = 0;      // batches being run by workers
  bool stopping = false;
  BatcherCounters counters;
  std::vector<std::jthread> workers;

  Impl(EmbeddingProvider& p, BatcherOptions o, Observer obs, TokenEstimator est)
      : provider(p),
        options(o),
        observer(std::move(obs)),
        estimator(est ? std::move(est) : TokenEstimator(default_estimate)),
        max_tokens(p.model_info().max_tokens) {
    options.workers = std::max<std::size_t>(options.workers, 1);
    options.max_batch_requests = std::max<std::size_t>(options.max_batch_requests, 1);
    for (std::size_t i = 0; i < options.workers; ++i) workers.emplace_back([this] { run(); });
  }

  std::size_t longest_input(const EmbedRequest& request) const;
  bool batch_full() const;
  void purge_dead(BatchClock::time_point now);
  std::vector<Pending> take_batch();
  void wait_for_company(std::unique_lock<std::mutex>& lock);
  void run();
  void finish_batch();
  void dispatch(std::vector<Pending>& batch);
  void run_merged(std::vector<Pending>& batch);
  void notify(const EmbedResponse& response, std::size_t requests, std::size_t inputs);
};

std::size_t DynamicBatcher::Impl::longest_input(const EmbedRequest& request) const {
  std::size_t longest = 0;
  if (const auto* texts = std::get_if<Texts>(&request.inputs)) {
    for (const auto& t : *texts) longest = std::max(longest, estimator(t));
  } else {
    for (const auto& ids : std::get<Ids>(request.inputs))
      longest = std::max(longest, ids.size() + 2);
  }
  return max_tokens ? std::min(longest, max_tokens) : longest;
}

bool DynamicBatcher::Impl::batch_full() const {
  return queue.size() >= options.max_batch_requests || queued_tokens >= options.max_batch_tokens;
}

// Fails queued requests whose client is gone or whose deadline has passed.
void DynamicBatcher::Impl::purge_dead(BatchClock::time_point now) {
  for (auto it = queue.begin(); it != queue.end();) {
    const bool expired = it->deadline && *it->deadline <= now;
    if (!it->ticket->cancelled() && !expired) {
      ++it;
      continue;
    }
    fail(it->promise, Error(expired ? ErrorCode::Timeout : ErrorCode::Unavailable,
                            expired ? "the request timed out in the queue"
                                    : "the request was cancelled by its client"));
    queued_tokens -= it->request.size() * it->longest;
    ++counters.cancelled;
    it = queue.erase(it);
  }
}

// The oldest request plus compatible ones: same bucket first, then any,
// under the token and request budgets.
std::vector<Pending> DynamicBatcher::Impl::take_batch() {
  std::vector<bool> chosen(queue.size(), false);
  const Pending& head = queue.front();
  chosen[0] = true;
  std::size_t count = 1, inputs = head.request.size(), longest = head.longest;
  auto try_add = [&](std::size_t i) {
    const Pending& p = queue[i];
    const std::size_t n = inputs + p.request.size(), l = std::max(longest, p.longest);
    if (count >= options.max_batch_requests || n * l > options.max_batch_tokens) return;
    chosen[i] = true;
    ++count;
    inputs = n;
    longest = l;
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t i = 1; i < queue.size() && count < options.max_batch_requests; ++i) {
      if (chosen[i] || queue[i].key != head.key) continue;
      if (pass == 0 && queue[i].bucket != head.bucket) continue;
      try_add(i);
    }
  }
  std::vector<Pending> batch;
  std::deque<Pending> rest;
  for (std::size_t i = 0; i < queue.size(); ++i) {
    queued_tokens -= chosen[i] ? queue[i].request.size() * queue[i].longest : 0;
    (chosen[i] ? batch.emplace_back(std::move(queue[i])) : rest.emplace_back(std::move(queue[i])));
  }
  queue.swap(rest);
  return batch;
}

// A lone request on an idle batcher goes at once (submit() even runs it on
// the caller's thread when a worker slot is free); otherwise wait until the
// batch is full or the oldest request has waited max_wait.
void DynamicBatcher::Impl::wait_for_company(std::unique_lock<std::mutex>& lock) {
  if (queue.size() == 1 && in_flight == 0) {
    ++counters.immediate;
    return;
  }
  const auto until = queue.front().enqueued + options.max_wait;
  cv.wait_until(lock, until, [&] { return stopping || queue.empty() || batch_full(); });
}

void DynamicBatcher::Impl::run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return (stopping || !queue.empty()) && in_flight < options.workers; });
      if (queue.empty()) return;  // stopping, and everything queued is done
      wait_for_company(lock);
      purge_dead(BatchClock::now());
      if (queue.empty()) continue;
      batch = take_batch();
      ++in_flight;
    }
    dispatch(batch);
    finish_batch();
  }
}

void DynamicBatcher::Impl::finish_batch() {
  {
    std::lock_guard lock(mu);
    --in_flight;
  }
  cv.notify_all();
}

void DynamicBatcher::Impl::notify(const EmbedResponse& response, std::size_t requests,
                                  std::size_t inputs) {
  {
    std::lock_guard lock(mu);
    ++counters.batches;
    counters.requests += requests;
    counters.merged_batches += requests > 1 ? 1 : 0;
    counters.max_batch_requests = std::max(counters.max_batch_requests, requests);
  }
  if (!observer) return;
  try {
    observer({requests, inputs, response.usage.prompt_tokens, response.usage.stages});
  } catch (...) {
    // Metrics must never fail a request.
  }
}

void DynamicBatcher::Impl::dispatch(std::vector<Pending>& batch) {
  const auto now = BatchClock::now();
  std::vector<double> queued;
  for (auto& p : batch) queued.push_back(micros_between(p.enqueued, now));
  if (batch.size() > 1) {
    run_merged(batch);
    return;
  }
  Pending& p = batch.front();
  try {
    auto response = provider.embed_batch(p.request);
    notify(response, 1, p.request.size());
    BatchedResponse out{std::move(response), queued.front(), 1};
    p.promise.set_value(std::move(out));
  } catch (...) {
    p.promise.set_exception(std::current_exception());
  }
}

// One provider call for all; if it fails on bad input, each request runs
// alone so only the offending one fails (with its own input index).
void DynamicBatcher::Impl::run_merged(std::vector<Pending>& batch) {
  const auto dispatched = BatchClock::now();
  EmbedRequest merged = merge_inputs(batch);
  EmbedResponse response;
  try {
    response = provider.embed_batch(merged);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidInput) {
      for (auto& p : batch) fail(p.promise, e);
      return;
    }
    restore_inputs(batch, merged);
    for (auto& p : batch) {
      std::vector<Pending> one;
      one.push_back(std::move(p));
      dispatch(one);
    }
    return;
  } catch (...) {
    for (auto& p : batch) p.promise.set_exception(std::current_exception());
    return;
  }
  notify(response, batch.size(), merged.size());
  std::size_t offset = 0;
  for (auto& p : batch) {
    const std::size_t n = p.request.size();
    BatchedResponse out{slice(response, offset, n), micros_between(p.enqueued, dispatched),
                        batch.size()};
    p.promise.set_value(std::move(out));
    offset += n;
  }
}

DynamicBatcher::DynamicBatcher(EmbeddingProvider& provider, BatcherOptions options,
                               Observer observer, TokenEstimator estimator)
    : impl_(std::make_unique<Impl>(provider, options, std::move(observer), std::move(estimator))) {}

DynamicBatcher::~DynamicBatcher() { shutdown(); }

std::shared_ptr<BatchTicket> DynamicBatcher::submit(
    EmbedRequest request, std::optional<BatchClock::time_point> deadline) {
  if (request.size() == 0) throw invalid_request("the request has no inputs: send at least one");
  if (deadline && *deadline <= BatchClock::now()) {
    throw Error(ErrorCode::Timeout, "the request's deadline passed before it was queued");
  }
  auto ticket = std::make_shared<BatchTicket>();
  Pending p;
  p.longest = impl_->longest_input(request);
  p.bucket = static_cast<unsigned>(std::bit_width(p.longest));
  p.key = options_key(request);
  p.request = std::move(request);
  p.ticket = ticket;
  p.deadline = deadline;
  ticket->future_ = p.promise.get_future();
  std::vector<Pending> inline_batch;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) throw Error(ErrorCode::Unavailable, "the server is shutting down");
    if (impl_->queue.size() >= impl_->options.max_queue) {
      ++impl_->counters.rejected;
      throw Error(ErrorCode::Unavailable, "the request queue is full (" +
                                              std::to_string(impl_->options.max_queue) +
                                              " requests); retry later");
    }
    p.enqueued = BatchClock::now();
    if (impl_->queue.empty() && impl_->in_flight < impl_->options.workers) {
      // Idle: run it on the caller's thread, sparing a hand-off to a worker.
      ++impl_->in_flight;
      ++impl_->counters.immediate;
      inline_batch.push_back(std::move(p));
    } else {
      impl_->queued_tokens += p.request.size() * p.longest;
      impl_->queue.push_back(std::move(p));
    }
  }
  if (inline_batch.empty()) {
    impl_->cv.notify_one();
    return ticket;
  }
  impl_->dispatch(inline_batch);
  impl_->finish_batch();
  return ticket;
}

BatchedResponse DynamicBatcher::embed(EmbedRequest request,
                                      std::optional<BatchClock::time_point> deadline) {
  return submit(std::move(request), deadline)->wait(deadline);
}

void DynamicBatcher::shutdown() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->workers.clear();  // joins
}

std::size_t DynamicBatcher::queue_depth() const {
  std::lock_guard lock(impl_->mu);
  return impl_->queue.size();
}

BatcherCounters DynamicBatcher::counters() const {
  std::lock_guard lock(impl_->mu);
  return impl_->counters;
}

const BatcherOptions& DynamicBatcher::options() const noexcept { return impl_->options; }

}  // namespace akidb::embed
