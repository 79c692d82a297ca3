// The native engine's fork-join pool: every share of every run() runs exactly
// once, and run() returns only after all of them finished. The pool before
// this test existed failed this in under a second (a worker ran a share of
// the next generation twice: the engine then hung or read half-written
// outputs). The loops vary the share count every call, which is what opened
// that window; the hooked runs yield or sleep at every step of the protocol.
#include "engines/native/thread_pool.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

namespace akidb::embed::native {
namespace {

using Clock = std::chrono::steady_clock;

// Fewer generations under a sanitizer (every atomic is instrumented).
#ifdef AKIDB_SANITIZED
constexpr std::uint64_t kScale = 50;
#else
constexpr std::uint64_t kScale = 1;
#endif

// Runs `generations` run() calls with share counts drawn from [low, high].
// Each share counts its executions; after each run() every count must be
// exactly 1 (0: run() returned before the share ran or finished; 2: it ran
// twice). A run() that never returns is reported by the progress watchdog
// below, which ends the process with the generation it stopped at.
class ShareCheck {
 public:
  explicit ShareCheck(std::size_t max_shares) : counts_(max_shares) {}

  // The first generation whose shares did not each run once, or -1.
  std::int64_t run(ThreadPool& pool, std::uint64_t generations, std::size_t low, std::size_t high,
                   std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> pick(low, high);
    for (std::uint64_t g = 0; g < generations; ++g) {
      const std::size_t shares = pick(rng);
      auto task = [this](std::size_t share, std::size_t thread) {
        counts_[share].fetch_add(1, std::memory_order_relaxed);
        threads_seen_[std::min<std::size_t>(thread, threads_seen_.size() - 1)].store(
            true, std::memory_order_relaxed);
      };
      pool.run(shares, task);
      for (std::size_t s = 0; s < shares; ++s) {
        if (counts_[s].exchange(0, std::memory_order_relaxed) != 1) {
          std::fprintf(stderr, "generation %llu: share %zu of %zu did not run exactly once\n",
                       static_cast<unsigned long long>(g), s, shares);
          return static_cast<std::int64_t>(g);
        }
      }
      progress_.store(g + 1, std::memory_order_relaxed);
    }
    return -1;
  }

  std::uint64_t progress() const { return progress_.load(std::memory_order_relaxed); }
  bool worker_ran() const {
    for (std::size_t t = 1; t < threads_seen_.size(); ++t)
      if (threads_seen_[t].load(std::memory_order_relaxed)) return true;
    return false;
  }

 private:
  std::vector<std::atomic<int>> counts_;
  std::array<std::atomic<bool>, 8> threads_seen_{};
  std::atomic<std::uint64_t> progress_{0};
};

// Fails the whole test binary (with the generation it stopped at) if `check`
// makes no progress for `stall`: a hung pool never returns from run().
class ProgressWatchdog {
 public:
  ProgressWatchdog(const ShareCheck& check, std::chrono::seconds stall)
      : thread_([&check, stall](std::stop_token stop) {
          std::uint64_t last = check.progress();
          auto since = Clock::now();
          while (!stop.stop_requested()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            const std::uint64_t now = check.progress();
            if (now != last) {
              last = now;
              since = Clock::now();
            } else if (Clock::now() - since > stall) {
              std::fprintf(
                  stderr, "thread pool hung: no run() returned for %llds at generation %llu\n",
                  static_cast<long long>(stall.count()), static_cast<unsigned long long>(now));
              std::abort();
            }
          }
        }) {}

 private:
  std::jthread thread_;
};

TEST(ThreadPool, TenMillionGenerationsEachShareRunsOnce) {
  ThreadPool pool(2);  // the configuration that hung: `serve --threads 2`
  ShareCheck check(61);
  ProgressWatchdog watchdog(check, std::chrono::seconds(20));
  EXPECT_EQ(check.run(pool, 10'000'000 / kScale, 2, 61, 1), -1);
  EXPECT_TRUE(check.worker_ran());
}

// More threads than cores: workers are descheduled mid-protocol by the OS.
TEST(ThreadPool, OversubscribedEachShareRunsOnce) {
  ThreadPool pool(4);
  ShareCheck check(64);
  ProgressWatchdog watchdog(check, std::chrono::seconds(20));
  EXPECT_EQ(check.run(pool, 300'000 / kScale, 2, 64, 2), -1);
}

// Every step of the protocol yields, and now and then sleeps, so each window
// between two of them is wide open in turn.
void yield_or_sleep(ThreadPool::Point) noexcept {
  thread_local std::minstd_rand rng(
      static_cast<std::uint32_t>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  const auto r = rng() % 64;
  if (r == 0)
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  else if (r < 32)
    std::this_thread::yield();
}

TEST(ThreadPool, InjectedYieldsAtEveryStepEachShareRunsOnce) {
  for (std::size_t threads : {2, 3}) {
    ThreadPool pool(threads, yield_or_sleep);
    ShareCheck check(12);
    ProgressWatchdog watchdog(check, std::chrono::seconds(20));
    EXPECT_EQ(check.run(pool, 10'000 / kScale, 1, 12, 3), -1) << threads << " threads";
  }
}

// Counts above one generation's capacity are split into several, each share
// index still run exactly once.
TEST(ThreadPool, MoreSharesThanOneGenerationCarries) {
  ThreadPool pool(2);
  const std::size_t shares = ThreadPool::kMaxShares * 2 + 5;
  std::vector<std::atomic<int>> counts(shares);
  auto task = [&](std::size_t share, std::size_t) {
    counts[share].fetch_add(1, std::memory_order_relaxed);
  };
  for (int round = 0; round < 20; ++round) {
    pool.run(shares, task);
    for (std::size_t s = 0; s < shares; ++s)
      ASSERT_EQ(counts[s].exchange(0, std::memory_order_relaxed), 1) << "share " << s;
  }
}

// A share's writes are visible to the caller when run() returns (the
// engine's next step reads them), and thread indexes stay in range.
TEST(ThreadPool, WritesOfEverySharePublishedToTheCaller) {
  ThreadPool pool(3);
  std::vector<std::uint64_t> out(48);
  std::vector<int> wrong_thread(48);
  for (std::uint64_t round = 1; round <= 20'000 / kScale; ++round) {
    auto task = [&](std::size_t share, std::size_t thread) {
      out[share] = round * 1000 + share;  // plain writes, read by the caller below
      wrong_thread[share] = thread >= pool.size();
    };
    pool.run(out.size(), task);
    for (std::size_t s = 0; s < out.size(); ++s) {
      ASSERT_EQ(out[s], round * 1000 + s);
      ASSERT_EQ(wrong_thread[s], 0);
    }
  }
}

TEST(ThreadPool, ZeroAndOneShareAndOneThread) {
  ThreadPool pool(1);
  int ran = 0;
  auto task = [&](std::size_t, std::size_t thread) {
    EXPECT_EQ(thread, 0u);
    ++ran;
  };
  pool.run(0, task);
  EXPECT_EQ(ran, 0);
  pool.run(1, task);
  pool.run(5, task);
  EXPECT_EQ(ran, 6);
  EXPECT_EQ(pool.size(), 1u);
}

// Destruction while workers sleep (after spinning out) and while they spin.
TEST(ThreadPool, DestroyedIdleOrJustAfterARun) {
  for (int i = 0; i < 50; ++i) {
    ThreadPool pool(3);
    int sum = 0;
    std::atomic<int> atomic_sum{0};
    auto task = [&](std::size_t share, std::size_t) {
      atomic_sum.fetch_add(static_cast<int>(share), std::memory_order_relaxed);
    };
    pool.run(10, task);
    sum = atomic_sum.load();
    EXPECT_EQ(sum, 45);
    if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace
}  // namespace akidb::embed::native
