#include "thread_pool.hpp"

#include <immintrin.h>

#include <algorithm>

namespace akidb::embed::native {
namespace {

constexpr int kSpins = 20000;  // pause loops before a worker sleeps (well under 1 ms)
constexpr int kPolite = 2000;  // after this many, also yield the core (oversubscribed hosts)

// The claim word: generation (40 bits, wraps after 2^40 runs) | share count
// (12 bits) | next unclaimed share (12 bits; reaches the count when all are
// claimed).
constexpr unsigned kCountShift = 12;
constexpr unsigned kGenerationShift = 24;
constexpr std::uint64_t kFieldMask = 0xfff;
constexpr std::uint64_t kGenerationMask = (std::uint64_t{1} << 40) - 1;
static_assert(ThreadPool::kMaxShares == kFieldMask);

constexpr std::uint64_t generation_of(std::uint64_t c) { return c >> kGenerationShift; }
constexpr std::size_t count_of(std::uint64_t c) { return (c >> kCountShift) & kFieldMask; }
constexpr std::size_t next_of(std::uint64_t c) { return c & kFieldMask; }
constexpr std::uint64_t claim_word(std::uint64_t generation, std::size_t count) {
  return (generation << kGenerationShift) | (std::uint64_t{count} << kCountShift);
}
constexpr std::uint64_t next_generation(std::uint64_t g) { return (g + 1) & kGenerationMask; }

void backoff(int spin) {
  _mm_pause();
  if (spin >= kPolite) std::this_thread::yield();
}

}  // namespace

ThreadPool::ThreadPool(std::size_t threads, Hook hook) : hook_(hook) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(threads - 1);
  for (std::size_t i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker(i); });
}

// A new generation with no shares wakes every worker; each sees stop_ (stored
// before it, ordered by the release store) and returns.
ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  claim_.store(claim_word(next_generation(generation_), 0), std::memory_order_release);
  claim_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_erased(std::size_t shares, Task task, void* ctx) {
  if (workers_.empty() || shares == 1) {
    for (std::size_t s = 0; s < shares; ++s) task(ctx, s, 0);
    return;
  }
  task_ = task;
  ctx_ = ctx;
  for (std::size_t first = 0; first < shares; first += kMaxShares)
    run_generation(first, std::min(kMaxShares, shares - first));
}

// Invariant on entry: no share is claimed or running (the previous
// generation's done_ reached its count, or there was none), so task_, ctx_,
// first_ and done_ are the caller's alone until the claim word is stored.
void ThreadPool::run_generation(std::size_t first, std::size_t shares) {
  first_ = first;
  done_.store(0, std::memory_order_relaxed);
  generation_ = next_generation(generation_);
  at(Point::publish);
  claim_.store(claim_word(generation_, shares), std::memory_order_release);
  claim_.notify_all();
  work(generation_, 0);
  at(Point::join);
  // Every share is claimed (work() returned); each claimer counts its share
  // after running it, and the acquire load that reads `shares` synchronizes
  // with every one of those counts (one release sequence of RMWs), so their
  // writes are visible and no thread touches task_ or ctx_ any more.
  for (int spin = 0; done_.load(std::memory_order_acquire) != shares; ++spin) backoff(spin);
}

// Claims and runs shares of `generation` until none are left. The bounds
// check and the claim are one CAS on one word: a claim succeeds only if the
// word still holds this generation with this count and this next share, so
// each share of each generation is claimed by exactly one thread, once. A
// successful claim also proves the generation is still running (it cannot
// finish without that share), and its acquire pairs with the caller's
// release store of the word, so task_, ctx_ and first_ read here are the
// generation's own.
void ThreadPool::work(std::uint64_t generation, std::size_t thread) {
  std::uint64_t c = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (generation_of(c) != generation || next_of(c) >= count_of(c)) return;
    at(Point::claim);
    if (!claim_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                      std::memory_order_acquire))
      continue;  // c now holds the current word: check it again
    at(Point::run);
    task_(ctx_, first_ + next_of(c), thread);
    at(Point::finish);
    done_.fetch_add(1, std::memory_order_release);
    c = claim_.load(std::memory_order_acquire);
  }
}

// Waits for a generation it has not seen, then works on it. A worker that
// wakes late finds the word already exhausted or moved on and waits again.
void ThreadPool::worker(std::size_t thread) {
  std::uint64_t seen = 0;
  for (;;) {
    std::uint64_t c = claim_.load(std::memory_order_acquire);
    for (int spin = 0; generation_of(c) == seen && spin < kSpins; ++spin) {
      backoff(spin);
      c = claim_.load(std::memory_order_acquire);
    }
    if (generation_of(c) == seen) {
      claim_.wait(c, std::memory_order_acquire);
      continue;
    }
    if (stop_.load(std::memory_order_relaxed)) return;
    seen = generation_of(c);
    at(Point::wake);
    work(seen, thread);
  }
}

}  // namespace akidb::embed::native
