// WorkspacePool under many threads: a workspace is leased to one holder at a
// time, every lease comes back, and the pool never makes more workspaces than
// were ever held at once.
#include "core/workspace_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <latch>
#include <set>
#include <thread>
#include <vector>

namespace akidb::embed {
namespace {

struct Workspace {
  std::atomic<int> holder{-1};  // who holds it now; -1: nobody
  std::size_t uses = 0;         // written only by the holder
  std::vector<int> buffer;      // grown by holders, as the engines' buffers are
};

struct Held {
  std::set<const Workspace*> distinct;
  std::size_t uses = 0;       // summed over the held workspaces
  std::size_t used = 0;       // held workspaces used before
  std::size_t last_uses = 0;  // of the last one taken
};

// Takes `n` leases, each held until all are taken (a Lease cannot move, so
// each lives in its own frame).
void hold(WorkspacePool<Workspace>& pool, std::size_t n, Held& held) {
  if (n == 0) return;
  auto lease = pool.take();
  held.distinct.insert(&*lease);
  held.uses += lease->uses;
  held.used += lease->uses > 0;
  held.last_uses = lease->uses;
  hold(pool, n - 1, held);
}

TEST(WorkspacePool, EachWorkspaceHasOneHolderAtATimeAndEveryLeaseComesBack) {
#ifdef AKIDB_SANITIZED
  constexpr int kIterations = 5'000;
#else
  constexpr int kIterations = 200'000;
#endif
  const int threads = static_cast<int>(std::max(4u, 2 * std::thread::hardware_concurrency()));
  WorkspacePool<Workspace> pool;
  std::atomic<int> overlaps{0};
  std::latch go(threads);
  {
    std::vector<std::jthread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        go.arrive_and_wait();
        for (int i = 0; i < kIterations; ++i) {
          auto ws = pool.take();
          int nobody = -1;
          if (!ws->holder.compare_exchange_strong(nobody, t)) overlaps.fetch_add(1);
          ++ws->uses;
          ws->buffer.assign(static_cast<std::size_t>(1 + (i + t) % 64), t);
          if (i % 7 == 0) std::this_thread::yield();  // hold it across a reschedule
          for (const int v : ws->buffer) {
            if (v != t) overlaps.fetch_add(1);
          }
          int me = t;
          if (!ws->holder.compare_exchange_strong(me, -1)) overlaps.fetch_add(1);
        }
      });
    }
  }
  EXPECT_EQ(overlaps.load(), 0);

  // Hold every pooled workspace at once, plus one: the pool made at most
  // `threads` of them, and their uses add up to every lease taken.
  Held held;
  hold(pool, static_cast<std::size_t>(threads) + 1, held);
  EXPECT_EQ(held.distinct.size(), static_cast<std::size_t>(threads) + 1);
  EXPECT_LE(held.used, static_cast<std::size_t>(threads));
  EXPECT_EQ(held.last_uses, 0u);  // the pool was empty by then: a fresh one
  EXPECT_EQ(held.uses, static_cast<std::size_t>(threads) * kIterations);
}

}  // namespace
}  // namespace akidb::embed
