#pragma once
// A small pool of reusable per-call buffers, so the hot path does not
// allocate once the pool is warm. Leases return their workspace on scope exit.
//
// Synchronization invariant: every workspace the pool made is at any moment
// either in `free_` or owned by exactly one Lease (never both, never two
// leases), so its holder uses it without a lock. `mutex_` guards `free_`
// alone; a workspace goes back into `free_` under the mutex and comes out
// under it, so everything one holder wrote happens-before the next holder
// reads it. The pool makes a workspace only when `free_` is empty, so it never
// holds more than the most leases that were ever out at once. The pool must
// outlive its leases. Stress test: tests/unit/workspace_pool_test.cpp.
#include <memory>
#include <mutex>
#include <vector>

namespace akidb::embed {

template <typename Workspace>
class WorkspacePool {
 public:
  class Lease {
   public:
    Lease(WorkspacePool& pool, std::unique_ptr<Workspace> ws) : pool_(pool), ws_(std::move(ws)) {}
    ~Lease() { pool_.give_back(std::move(ws_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Workspace& operator*() noexcept { return *ws_; }
    Workspace* operator->() noexcept { return ws_.get(); }

   private:
    WorkspacePool& pool_;
    std::unique_ptr<Workspace> ws_;
  };

  Lease take() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return Lease(*this, std::make_unique<Workspace>());
    auto ws = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(ws));
  }

 private:
  void give_back(std::unique_ptr<Workspace> ws) {
    if (!ws) return;
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(ws));
  }

  std::mutex mutex_;
  std::vector<std::unique_ptr<Workspace>> free_;  // guarded by mutex_
};

}  // namespace akidb::embed
