#include "cli/drain_deadline.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace akidb::embed::cli {

DrainDeadline::DrainDeadline(std::chrono::duration<double> timeout, const server::ServerLog& log)
    : timeout_(timeout), log_(log) {}

DrainDeadline::~DrainDeadline() {
  {
    const std::lock_guard lock(mu_);
    finished_ = true;
  }
  cv_.notify_all();
  thread_ = {};  // joins
}

void DrainDeadline::arm() {
  const std::lock_guard lock(mu_);
  if (armed_) return;
  armed_ = true;
  thread_ = std::jthread([this] { count_down(); });
}

void DrainDeadline::count_down() {
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, timeout_, [&] { return finished_; })) return;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", timeout_.count());
  log_.error(std::string("stopping took longer than the drain timeout (") + seconds +
             " s, --drain-timeout-s): a thread is stuck inside an engine run; exiting now with "
             "status " +
             std::to_string(kExitStatus));
  // No destructor may run: they would join or destroy the stuck engine
  // thread's objects (see the header). The log line above is flushed.
  std::_Exit(kExitStatus);
}

}  // namespace akidb::embed::cli
