#pragma once
// `serve --drain-timeout-s`: once a stop signal arrived, the server has this
// long to finish (answer in-flight requests, join the schedulers' workers,
// unload the models). Past it, one error line and the process exits at once
// with status 3, without destructors: that happens when a thread is stuck
// inside an engine run that never returns (the watchdog, docs/server.md),
// and such a thread can be neither stopped nor joined, so an orderly exit
// would block forever and destroying the engine under it would be undefined.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/server_log.hpp"

namespace akidb::embed::cli {

class DrainDeadline {
 public:
  static constexpr int kExitStatus = 3;

  // `log` must outlive this object.
  DrainDeadline(std::chrono::duration<double> timeout, const server::ServerLog& log);
  ~DrainDeadline();  // disarms, joins
  DrainDeadline(const DrainDeadline&) = delete;
  DrainDeadline& operator=(const DrainDeadline&) = delete;

  // Starts the countdown (later calls change nothing). Any thread.
  void arm();

 private:
  void count_down();

  std::chrono::duration<double> timeout_;
  const server::ServerLog& log_;
  // Guards armed_ and finished_. The countdown waits on cv_ until finished_
  // (the destructor: the drain finished in time) or the timeout; thread_ is
  // started by the first arm() under mu_ and joined by the destructor, after
  // every caller of arm() has stopped (serve stops its signal watcher first).
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool finished_ = false;
  std::jthread thread_;
};

}  // namespace akidb::embed::cli
