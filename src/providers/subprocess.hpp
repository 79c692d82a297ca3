#pragma once
// A child process with its standard streams on descriptors we own: stdin and
// stdout on one end of a Unix socket pair (so writes to a dead child fail with
// EPIPE instead of raising SIGPIPE), stderr on a non-blocking pipe. Every
// descriptor is close-on-exec; the child gets only fds 0, 1 and 2.
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace akidb::embed::detail {

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// How a child ended: "exited with status 3", "exited with signal 9 (SIGKILL)".
struct ExitStatus {
  int raw = 0;  // as waitpid reports it
  std::string describe() const;
  bool exited_with(int code) const noexcept;
};

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no '/'
  std::vector<std::string> env;   // the child's whole environment, "NAME=value"
};

class Subprocess {
 public:
  // Starts the child in its own process group (a terminal's Ctrl-C reaches
  // only the parent, which then shuts the child down). Throws
  // Error(Unavailable) when it cannot be started.
  explicit Subprocess(const SpawnSpec& spec);
  // Kills (SIGKILL) and reaps the child if it has not been reaped yet.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const noexcept { return pid_; }
  int io() const noexcept { return io_.get(); }          // the child's stdin and stdout
  int stderr_fd() const noexcept { return err_.get(); }  // read end, non-blocking
  void close_io() noexcept { io_.reset(); }              // the child reads end of input

  void signal(int sig) const noexcept;
  // Reaps the child if it has ended; its status once reaped.
  std::optional<ExitStatus> try_reap() noexcept;
  // Waits up to `timeout` for the child to end.
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout) noexcept;
  // SIGKILL, then a blocking reap.
  ExitStatus kill_and_reap() noexcept;

 private:
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  UniqueFd io_;
  UniqueFd err_;
};

// The current process environment, as "NAME=value" strings.
std::vector<std::string> current_environment();
// The current process environment with `name` set to `value`.
std::vector<std::string> environment_with(const std::string& name, const std::string& value);

}  // namespace akidb::embed::detail
