#include "providers/subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "akidb/embed/error.hpp"

extern "C" {
extern char** environ;  // NOLINT: POSIX declares it only this way
}

namespace akidb::embed::detail {
namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  throw Error(ErrorCode::Unavailable, what + ": " + std::strerror(err));
}

// posix_spawn's attributes and file actions, destroyed on scope exit.
struct SpawnSetup {
  posix_spawnattr_t attr{};
  posix_spawn_file_actions_t actions{};

  SpawnSetup(int io, int err) {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) sigaddset(&defaults, sig);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    const short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setflags(&attr, flags);
    posix_spawn_file_actions_adddup2(&actions, io, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, io, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
    // Descriptors some library opened without O_CLOEXEC must not leak either.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string ExitStatus::describe() const {
  if (WIFEXITED(raw)) return "exited with status " + std::to_string(WEXITSTATUS(raw));
  if (WIFSIGNALED(raw)) {
    const int sig = WTERMSIG(raw);
    const char* name = sigabbrev_np(sig);
    return "exited with signal " + std::to_string(sig) +
           (name ? " (SIG" + std::string(name) + ")" : std::string());
  }
  return "ended with wait status " + std::to_string(raw);
}

bool ExitStatus::exited_with(int code) const noexcept {
  return WIFEXITED(raw) && WEXITSTATUS(raw) == code;
}

Subprocess::Subprocess(const SpawnSpec& spec) {
  if (spec.argv.empty()) throw Error(ErrorCode::Internal, "spawn: empty argv");
  // Invariant across threads: every descriptor is made close-on-exec
  // atomically with its creation (SOCK_CLOEXEC, O_CLOEXEC), so a child that
  // another thread spawns meanwhile (workers restart on their leaseholders'
  // threads) never inherits this child's ends, which would keep its socket
  // and stderr open after it dies and hide its end from the supervisor. The
  // child gets its own ends only through posix_spawn's dup2 actions.
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) fail("socketpair", errno);
  io_.reset(sv[0]);
  const UniqueFd child_io(sv[1]);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) fail("pipe2", errno);
  err_.reset(pipe_fds[0]);
  const UniqueFd child_err(pipe_fds[1]);
  ::fcntl(err_.get(), F_SETFL, ::fcntl(err_.get(), F_GETFL) | O_NONBLOCK);

  const SpawnSetup setup(child_io.get(), child_err.get());
  auto argv = c_strings(spec.argv);
  auto env = c_strings(spec.env);
  const int rc =
      ::posix_spawnp(&pid_, argv[0], &setup.actions, &setup.attr, argv.data(), env.data());
  if (rc != 0) {
    pid_ = -1;
    fail("cannot start '" + spec.argv[0] + "'", rc);
  }
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) kill_and_reap();
}

void Subprocess::signal(int sig) const noexcept {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::optional<ExitStatus> Subprocess::try_reap() noexcept {
  if (status_ || pid_ <= 0) return status_;
  int raw = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &raw, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) status_ = ExitStatus{raw};
  return status_;
}

std::optional<ExitStatus> Subprocess::wait_for(std::chrono::milliseconds timeout) noexcept {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  while (!try_reap()) {
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(10000));
  }
  return status_;
}

ExitStatus Subprocess::kill_and_reap() noexcept {
  if (status_ || pid_ <= 0) return status_.value_or(ExitStatus{});
  ::kill(pid_, SIGKILL);
  int raw = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &raw, 0);
  } while (r < 0 && errno == EINTR);
  status_ = ExitStatus{raw};
  return *status_;
}

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) env.emplace_back(*e);
  return env;
}

std::vector<std::string> environment_with(const std::string& name, const std::string& value) {
  std::vector<std::string> env;
  const std::string prefix = name + "=";
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0) env.emplace_back(*e);
  }
  env.push_back(prefix + value);
  return env;
}

}  // namespace akidb::embed::detail
