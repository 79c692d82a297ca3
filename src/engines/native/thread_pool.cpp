#include "thread_pool.hpp"

#include <immintrin.h>

#include <algorithm>

namespace akidb::embed::native {
namespace {

constexpr int kSpins = 20000;  // pause loops before a worker sleeps (well under 1 ms)
constexpr int kPolite = 2000;  // after this many, also yield the core (oversubscribed hosts)

void backoff(int spin) {
  _mm_pause();
  if (spin >= kPolite) std::this_thread::yield();
}

}  // namespace

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads - 1);
  for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_erased(Task task, void* ctx) {
  if (workers_.empty()) {
    task(ctx, 0);
    return;
  }
  task_ = task;
  ctx_ = ctx;
  pending_.store(workers_.size(), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  task(ctx, 0);
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) backoff(spin);
}

void ThreadPool::worker(std::size_t index) {
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t now = generation_.load(std::memory_order_acquire);
    for (int spin = 0; now == seen && spin < kSpins; ++spin) {
      backoff(spin);
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      continue;
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    task_(ctx_, index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace akidb::embed::native
