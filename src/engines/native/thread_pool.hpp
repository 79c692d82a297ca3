#pragma once
// A persistent fork-join pool: run(fn) calls fn(0..size()-1), one index per
// thread, the caller being thread 0, and returns when all are done. Workers
// spin briefly between steps (a forward pass is dozens of short steps), then
// sleep on an atomic wait. No allocation per run().
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
  void run(Fn& fn) {
    run_erased([](void* ctx, std::size_t index) { (*static_cast<Fn*>(ctx))(index); }, &fn);
  }

 private:
  using Task = void (*)(void*, std::size_t);
  void run_erased(Task task, void* ctx);
  void worker(std::size_t index);

  std::vector<std::thread> workers_;
  Task task_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace akidb::embed::native
