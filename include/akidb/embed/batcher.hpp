#pragma once
// Dynamic batcher: merges concurrent embed requests into one provider call.
//
// Requests wait in a bounded queue. Workers take the oldest request, add
// queued requests with the same options (input kind, truncate, normalize) —
// first those in the same length bucket, then any — while the batch stays
// under max_batch_tokens padded tokens and max_batch_requests requests, make
// one embed_batch call and hand each request its own rows back in order.
// A lone request on an idle batcher is dispatched at once; otherwise the
// oldest request waits at most max_wait for company.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string_view>

#include "akidb/embed/provider.hpp"
#include "akidb/embed/types.hpp"

namespace akidb::embed {

struct BatcherOptions {
  std::size_t max_batch_tokens = 16384;  // estimated padded tokens per merged batch
  std::size_t max_batch_requests = 64;   // requests per merged batch
  std::chrono::microseconds max_wait{2000};
  std::size_t max_queue = 1024;  // queued requests; beyond this submit() fails with Unavailable
  std::size_t workers = 1;       // ONNX Runtime already uses every core intra-op
};

// What one provider call looked like (for metrics).
struct BatchStats {
  std::size_t requests = 0;
  std::size_t inputs = 0;
  std::size_t tokens = 0;  // real tokens after truncation, from the provider's usage
  StageTimings stages;
};

struct BatcherCounters {
  std::size_t batches = 0;
  std::size_t requests = 0;        // requests that reached the provider
  std::size_t merged_batches = 0;  // batches with more than one request
  std::size_t max_batch_requests = 0;
  std::size_t cancelled = 0;  // skipped when dequeued (cancelled or past deadline)
  std::size_t rejected = 0;   // refused because the queue was full
  std::size_t immediate = 0;  // dispatched at once by the idle rule
};

struct BatchedResponse {
  EmbedResponse response;
  double queue_us = 0;             // time from submit() to dispatch
  std::size_t batch_requests = 0;  // requests in the provider call that served this one
};

using BatchClock = std::chrono::steady_clock;

// One queued request; the caller keeps it to wait or cancel.
class BatchTicket {
 public:
  // Waits until the result is ready or the deadline passes. On timeout the
  // ticket is cancelled and Error(Timeout) is thrown. Provider errors rethrow.
  BatchedResponse wait(std::optional<BatchClock::time_point> deadline = std::nullopt);
  // The client is gone: skip this request when it is dequeued.
  void cancel() noexcept { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }

 private:
  friend class DynamicBatcher;
  std::future<BatchedResponse> future_;
  std::atomic<bool> cancelled_{false};
};

class DynamicBatcher {
 public:
  using Observer = std::function<void(const BatchStats&)>;
  // Estimated tokens of one text ([CLS]/[SEP] included) for bucketing and the budget.
  using TokenEstimator = std::function<std::size_t(std::string_view)>;

  DynamicBatcher(EmbeddingProvider& provider, BatcherOptions options, Observer observer = {},
                 TokenEstimator estimator = {});
  ~DynamicBatcher();  // shutdown()
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues a request. Throws Error(Unavailable) at once when the queue is full
  // or the batcher is shutting down, Error(InvalidInput) for an empty request.
  // A request whose deadline has passed when dequeued is skipped (Timeout).
  std::shared_ptr<BatchTicket> submit(
      EmbedRequest request, std::optional<BatchClock::time_point> deadline = std::nullopt);
  // submit() + wait().
  BatchedResponse embed(EmbedRequest request,
                        std::optional<BatchClock::time_point> deadline = std::nullopt);

  // Stops taking requests, finishes everything queued, joins the workers.
  void shutdown();

  std::size_t queue_depth() const;
  BatcherCounters counters() const;
  const BatcherOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
