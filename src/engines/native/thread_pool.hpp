#pragma once
// A persistent fork-join pool. run(shares, fn) calls fn(share, thread) once
// for every share in [0, shares), on the caller (thread 0) and the workers,
// and returns when all shares are done. Shares are claimed through one atomic
// word, so a worker the OS has not scheduled yet (a shared, oversubscribed
// host) delays nothing: the threads that are running take its shares.
// Workers spin briefly between steps, then sleep on an atomic wait. No
// allocation per run(). fn must not throw (an exception on a worker ends the
// process).
//
// The protocol (thread_pool.cpp states each invariant where it is relied on):
// every run() is one generation; the claim word packs the generation, its
// share count and its next unclaimed share, so a thread bounds-checks and
// claims a share in one compare-and-swap on one word, and can never claim a
// share of a generation other than the one whose count it checked against.
// (The pool before this one kept the count in a second atomic: a worker could
// check an old generation's index against a new count and run a share twice.)
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace akidb::embed::native {

class ThreadPool {
 public:
  // The protocol's steps, for the test hook (tests/unit/thread_pool_test.cpp
  // yields or sleeps at each to widen every window).
  enum class Point : std::uint8_t {
    publish,  // caller: task written, before the generation's claim word is stored
    claim,    // any thread: claim word read and bounds-checked, before the CAS
    run,      // any thread: share claimed, before the task runs
    finish,   // any thread: task ran, before done_ counts it
    join,     // caller: its own claims are over, before it waits for done_
    wake,     // worker: a new generation seen, before it claims
  };
  using Hook = void (*)(Point) noexcept;

  // 0 threads: all hardware threads. `hook`: tests only; called at every Point.
  explicit ThreadPool(std::size_t threads, Hook hook = nullptr);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t size() const noexcept { return workers_.size() + 1; }

  // Not reentrant: one run() at a time (the engine holds its mutex).
  template <class Fn>
  void run(std::size_t shares, Fn& fn) {
    run_erased(
        shares,
        [](void* ctx, std::size_t share, std::size_t thread) {
          (*static_cast<Fn*>(ctx))(share, thread);
        },
        &fn);
  }

  // Shares one generation can carry; run() splits larger counts into
  // successive generations.
  static constexpr std::size_t kMaxShares = 0xfff;

 private:
  using Task = void (*)(void*, std::size_t, std::size_t);
  void run_erased(std::size_t shares, Task task, void* ctx);
  void run_generation(std::size_t first, std::size_t shares);
  void work(std::uint64_t generation, std::size_t thread);
  void worker(std::size_t thread);
  void at(Point point) const noexcept {
    if (hook_) hook_(point);
  }

  Hook hook_;
  std::vector<std::thread> workers_;
  std::uint64_t generation_ = 0;  // the caller's; workers read it from claim_
  // (generation << 24) | (shares << 12) | next unclaimed share. The only
  // word a worker decides on.
  std::atomic<std::uint64_t> claim_{0};
  // The running generation's task. Written by the caller only while no share
  // is claimed or running (before the claim word opens the generation), read
  // only by a thread holding a claimed share: plain fields, ordered by
  // claim_'s release store and the claimer's acquire CAS.
  Task task_ = nullptr;
  void* ctx_ = nullptr;
  std::size_t first_ = 0;             // share index of the generation's share 0
  std::atomic<std::size_t> done_{0};  // shares of the running generation finished
  std::atomic<bool> stop_{false};
};

}  // namespace akidb::embed::native
