#include "cli/quiesce.hpp"

#include <chrono>
#include <ctime>
#include <thread>

namespace akidb::embed::cli {

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

double wait_until_idle(double max_seconds) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kWindow = std::chrono::milliseconds(10);
  constexpr double kIdleMs = 0.5;
  const auto deadline = Clock::now() + std::chrono::duration<double>(max_seconds);
  double busy = 0;
  do {
    const double before = process_cpu_ms();
    std::this_thread::sleep_for(kWindow);
    busy = process_cpu_ms() - before;
  } while (busy >= kIdleMs && Clock::now() < deadline);
  return busy;
}

}  // namespace akidb::embed::cli
