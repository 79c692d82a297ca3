#pragma once
// A persistent fork-join pool. run(shares, fn) calls fn(share, thread) once
// for every share in [0, shares), on the caller (thread 0) and the workers,
// and returns when all shares are done. Shares are claimed through one atomic
// counter, so a worker the OS has not scheduled yet (a shared, oversubscribed
// host) delays nothing: the threads that are running take its shares.
// Workers spin briefly between steps, then sleep on an atomic wait. No
// allocation per run().
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace akidb::embed::native {

class ThreadPool {
 public:
  explicit ThreadPool(std::size_t threads);  // 0: all hardware threads
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

 private:
  using Task = void (*)(void*, std::size_t, std::size_t);
  void run_erased(std::size_t shares, Task task, void* ctx);
  void work(std::uint32_t generation, std::size_t thread);
  void worker(std::size_t thread);

  std::vector<std::thread> workers_;
  std::uint32_t generation_ = 0;  // the caller's (wraps); workers read claim_
  // (generation << 32) | next unclaimed share of that generation.
  std::atomic<std::uint64_t> claim_{0};
  std::atomic<Task> task_{nullptr};
  std::atomic<void*> ctx_{nullptr};
  std::atomic<std::size_t> shares_{0};
  std::atomic<std::size_t> done_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace akidb::embed::native
