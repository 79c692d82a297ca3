#include "thread_pool.hpp"

#include <immintrin.h>

#include <algorithm>

namespace akidb::embed::native {
namespace {

constexpr int kSpins = 20000;  // pause loops before a worker sleeps (well under 1 ms)
constexpr int kPolite = 2000;  // after this many, also yield the core (oversubscribed hosts)
constexpr std::uint64_t kIndexMask = 0xffffffffu;

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
  claim_.store(std::uint64_t{generation_ + 1u} << 32, std::memory_order_release);
  claim_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_erased(std::size_t shares, Task task, void* ctx) {
  if (shares == 0) return;
  if (workers_.empty() || shares == 1) {
    for (std::size_t s = 0; s < shares; ++s) task(ctx, s, 0);
    return;
  }
  task_.store(task, std::memory_order_relaxed);
  ctx_.store(ctx, std::memory_order_relaxed);
  shares_.store(shares, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  ++generation_;
  claim_.store(std::uint64_t{generation_} << 32, std::memory_order_release);
  claim_.notify_all();
  work(generation_, 0);
  for (int spin = 0; done_.load(std::memory_order_acquire) != shares; ++spin) backoff(spin);
}

// Claims and runs shares of `generation` until none are left. A successful
// claim proves the generation is still running (it cannot finish without
// that share), so task_, ctx_ and shares_ are still its own.
void ThreadPool::work(std::uint32_t generation, std::size_t thread) {
  std::uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((c >> 32) != generation) return;
    const std::size_t share = c & kIndexMask;
    if (share >= shares_.load(std::memory_order_relaxed)) return;
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;
    task_.load(std::memory_order_relaxed)(ctx_.load(std::memory_order_relaxed), share, thread);
    done_.fetch_add(1, std::memory_order_acq_rel);
    c = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker(std::size_t thread) {
  std::uint32_t seen = 0;
  for (;;) {
    std::uint64_t c = claim_.load(std::memory_order_acquire);
    for (int spin = 0; (c >> 32) == seen && spin < kSpins; ++spin) {
      backoff(spin);
      c = claim_.load(std::memory_order_acquire);
    }
    if ((c >> 32) == seen) {
      claim_.wait(c, std::memory_order_acquire);
      continue;
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = static_cast<std::uint32_t>(c >> 32);
    work(seen, thread);
  }
}

}  // namespace akidb::embed::native
