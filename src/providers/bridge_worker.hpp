#pragma once
// One supervised Python bridge worker: its process, the wire protocol
// (JSON lines or binary frames, see python/akidb_embed/bridge_service.py) and
// a tail of its stderr for error messages. Not thread-safe: one caller at a
// time (the provider's pool leases each worker to one request).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "akidb/embed/error.hpp"
#include "akidb/embed/python_bridge_provider.hpp"
#include "providers/subprocess.hpp"

namespace akidb::embed::detail {

using Clock = std::chrono::steady_clock;

struct WorkerSpec {
  SpawnSpec spawn;
  BridgeFraming framing = BridgeFraming::Binary;
  std::chrono::milliseconds startup_timeout{60000};
  std::chrono::milliseconds shutdown_grace{2000};
};

// The worker cannot be used any more: it crashed, hung, or broke the protocol.
// The code is Timeout for a hang, Unavailable otherwise.
class WorkerFailure : public std::runtime_error {
 public:
  WorkerFailure(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// A reply: the JSON object, plus the raw payload in binary framing.
struct Reply {
  nlohmann::json json;
  std::string payload;

  // Tolerant readers of the service's reply: a malformed reply (not an
  // object, missing or mistyped fields) reads as empty, never throws.
  bool ok() const;
  std::string error_type() const;     // "" when absent
  std::string error_message() const;  // "" when absent
  nlohmann::json data() const;        // the "data" object, or an empty object
};

// Frame header of the binary framing: magic, version, kind, flags, lengths.
inline constexpr std::size_t kFrameHeaderSize = 16;
inline constexpr char kFrameMagic[4] = {'A', 'K', 'B', 'F'};
inline constexpr unsigned char kFrameVersion = 1;
inline constexpr unsigned char kFrameRequest = 1;
inline constexpr unsigned char kFrameReply = 2;

class BridgeWorker {
 public:
  BridgeWorker(std::size_t index, const WorkerSpec& spec) : index_(index), spec_(spec) {}
  ~BridgeWorker() { kill(); }
  BridgeWorker(const BridgeWorker&) = delete;
  BridgeWorker& operator=(const BridgeWorker&) = delete;

  // Starts the process (without waiting for it). Throws Error(Unavailable).
  void spawn();
  // Negotiates the framing and waits for a successful health check and the
  // service's info. Throws Error (ModelError when the service could not load
  // the model, Unavailable otherwise) ending with the stderr tail; the
  // process is then killed and reaped.
  void await_ready(Clock::time_point deadline);
  void start() { spawn(), await_ready(Clock::now() + spec_.startup_timeout); }

  // Sends one request and reads its reply. Throws WorkerFailure; the caller
  // must then kill() the worker.
  Reply call(const nlohmann::json& request, std::chrono::milliseconds timeout);

  void kill() noexcept;  // SIGKILL and reap, if running
  // Graceful stop in two halves, so many workers can stop in parallel: ask
  // (shutdown command, end of input), then wait (grace, SIGTERM, grace, SIGKILL).
  void request_stop() noexcept;
  void finish_stop() noexcept;

  bool running() const noexcept { return proc_ != nullptr; }
  pid_t pid() const noexcept { return pid_.load(); }
  const nlohmann::json& info() const noexcept { return info_; }

 private:
  std::string name() const;
  std::string stderr_tail();
  void drain_stderr() noexcept;
  void send_all(const std::string& bytes, Clock::time_point deadline);
  void wait_io(short events, Clock::time_point deadline);
  void fill(std::size_t want, Clock::time_point deadline);
  Reply read_reply(Clock::time_point deadline);
  Reply read_line(Clock::time_point deadline);
  Reply read_frame(Clock::time_point deadline);
  void encode(const nlohmann::json& request, std::string& out) const;
  [[noreturn]] void fail_ended(const std::string& what);
  WorkerFailure timed_out();
  [[noreturn]] void fail_garbage(const std::string& what);
  Reply checked_call(const nlohmann::json& request, Clock::time_point deadline);

  // Invariant: one caller at a time (the provider's lease) touches every
  // member but `pid_`; `pid_` is atomic because worker_pids() (tests and
  // supervision) reads it from other threads while a call is in flight.
  std::size_t index_;
  const WorkerSpec& spec_;
  std::unique_ptr<Subprocess> proc_;
  std::atomic<pid_t> pid_{0};
  BridgeFraming framing_ = BridgeFraming::Json;  // what the service speaks now
  std::string in_;                               // bytes read but not yet consumed
  std::string out_;                              // the request being sent
  std::string stderr_;                           // the tail of the worker's stderr
  nlohmann::json info_;
  std::optional<ExitStatus> last_exit_;  // how the last process ended
  std::chrono::milliseconds budget_{0};  // the timeout of the call in flight
};

}  // namespace akidb::embed::detail
