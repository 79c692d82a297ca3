#pragma once
// A small pool of reusable per-call buffers, so the hot path does not
// allocate once the pool is warm. Leases return their workspace on scope exit.
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
  std::vector<std::unique_ptr<Workspace>> free_;
};

}  // namespace akidb::embed
