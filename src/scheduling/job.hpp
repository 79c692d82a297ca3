#pragma once
// One admitted request inside the scheduler: its inputs in the order they
// will be dispatched (shortest first), how many are dispatched and done, and
// the promise its caller waits on.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <numeric>
#include <optional>
#include <vector>

#include "akidb/embed/admission.hpp"
#include "akidb/embed/scheduler.hpp"

namespace akidb::embed::scheduling {

struct Job {
  EmbedRequest request;
  AdmittedRequest admitted;          // refers to `request`: a Job never moves (held by shared_ptr)
  Embeddings vectors;                // full dimension, one row per input
  std::vector<std::uint32_t> order;  // input indices, shortest first
  std::size_t dispatched = 0;        // entries of `order` handed to a batch
  std::size_t done = 0;              // inputs whose vectors are written
  std::uint64_t arrival = 0;         // admission order
  std::optional<SchedulerClock::time_point> deadline;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  std::promise<ScheduledResponse> promise;
  // The promise has a value or an error. Read and set under the scheduler's
  // lock only, by every path that settles: so each promise is set once.
  bool settled = false;
  SchedulerClock::time_point admitted_at;
  std::optional<SchedulerClock::time_point> first_batch_at;
  std::size_t batches = 0;
  StageTimings stages;

  std::size_t size() const noexcept { return order.size(); }
  std::size_t pending() const noexcept { return order.size() - dispatched; }
  std::size_t next_length() const noexcept {
    return admitted.encodings[order[dispatched]].ids.size();
  }

  // Sorts the inputs by token length (stable: equal lengths keep their order).
  void plan_order() {
    order.resize(admitted.size());
    std::iota(order.begin(), order.end(), 0U);
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      return admitted.encodings[a].ids.size() < admitted.encodings[b].ids.size();
    });
  }
};

}  // namespace akidb::embed::scheduling
