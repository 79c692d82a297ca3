#include "providers/bridge_worker.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace akidb::embed::detail {
namespace {

static_assert(std::endian::native == std::endian::little, "binary framing assumes little-endian");

constexpr std::size_t kStderrTail = 4096;
constexpr int kExitBadModel = 3;  // the service's exit status when the model cannot load
constexpr std::uint32_t kMaxJsonBytes = 64u << 20;
constexpr std::uint32_t kMaxPayloadBytes = 1u << 30;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

void put_u32(std::string& out, std::size_t at, std::uint32_t v) {
  std::memcpy(out.data() + at, &v, sizeof v);
}

std::uint32_t get_u32(const std::string& in, std::size_t at) {
  std::uint32_t v = 0;
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

// The first bytes of unexpected output, printable.
std::string preview(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes.substr(0, 48)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string BridgeWorker::name() const {
  return "python worker " + std::to_string(index_) + " (pid " + std::to_string(pid_.load()) + ")";
}

void BridgeWorker::spawn() {
  kill();
  in_.clear();
  stderr_.clear();
  info_ = nullptr;
  last_exit_.reset();
  framing_ = BridgeFraming::Json;
  proc_ = std::make_unique<Subprocess>(spec_.spawn);
  pid_ = proc_->pid();
}

void BridgeWorker::drain_stderr() noexcept {
  if (!proc_ || proc_->stderr_fd() < 0) return;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(proc_->stderr_fd(), buf, sizeof buf);
    if (n > 0) {
      stderr_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // EAGAIN, end of file or an error
  }
  if (stderr_.size() > 2 * kStderrTail) stderr_.erase(0, stderr_.size() - kStderrTail);
}

std::string BridgeWorker::stderr_tail() {
  drain_stderr();
  std::string tail =
      stderr_.size() > kStderrTail ? stderr_.substr(stderr_.size() - kStderrTail) : stderr_;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return tail.empty() ? "; stderr was empty" : "; stderr tail:\n" + tail;
}

void BridgeWorker::fail_ended(const std::string& what) {
  auto status = proc_->wait_for(std::chrono::milliseconds(1000));
  const std::string how = status ? status->describe() : what + " but is still running";
  const std::string message = name() + " " + how + stderr_tail();
  kill();
  throw WorkerFailure(ErrorCode::Unavailable, message);
}

WorkerFailure BridgeWorker::timed_out() {
  return WorkerFailure(
      ErrorCode::Timeout,
      name() + " did not answer within " + std::to_string(budget_.count()) + " ms" + stderr_tail());
}

void BridgeWorker::fail_garbage(const std::string& what) {
  throw WorkerFailure(ErrorCode::Unavailable, name() + " sent an invalid reply: " + what);
}

// Polls the socket for `events`, collecting stderr meanwhile, until the
// deadline. Throws WorkerFailure(Timeout) when the deadline passes.
void BridgeWorker::wait_io(short events, Clock::time_point deadline) {
  for (;;) {
    pollfd fds[2] = {{proc_->io(), events, 0}, {proc_->stderr_fd(), POLLIN, 0}};
    const int rc = ::poll(fds, 2, remaining_ms(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) fail_ended(std::string("poll failed: ") + std::strerror(errno));
    if (fds[1].revents & POLLIN) drain_stderr();
    if (fds[0].revents) return;  // ready, hung up or in error: the read or write says which
    if (rc == 0 || Clock::now() >= deadline) {
      throw timed_out();
    }
    if (fds[1].revents & (POLLHUP | POLLERR)) {
      // stderr closed: the process is probably ending; keep waiting on the socket alone.
      pollfd io{proc_->io(), events, 0};
      const int r = ::poll(&io, 1, remaining_ms(deadline));
      if (r == 0) {
        throw timed_out();
      }
      return;
    }
  }
}

void BridgeWorker::send_all(const std::string& bytes, Clock::time_point deadline) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    wait_io(POLLOUT, deadline);
    const ssize_t n =
        ::send(proc_->io(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      sent += static_cast<std::size_t>(n);
    } else if (errno != EINTR && errno != EAGAIN) {
      fail_ended("stopped reading its input");
    }
  }
}

// Reads until in_ holds at least `want` bytes.
void BridgeWorker::fill(std::size_t want, Clock::time_point deadline) {
  while (in_.size() < want) {
    wait_io(POLLIN, deadline);
    const std::size_t old = in_.size();
    in_.resize(old + std::max<std::size_t>(want - old, 65536));
    const ssize_t n = ::recv(proc_->io(), in_.data() + old, in_.size() - old, MSG_DONTWAIT);
    in_.resize(old + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n == 0) fail_ended("closed its output");
    if (n < 0 && errno != EINTR && errno != EAGAIN) fail_ended("broke its connection");
  }
}

Reply BridgeWorker::read_line(Clock::time_point deadline) {
  std::size_t scanned = 0, end;
  while ((end = in_.find('\n', scanned)) == std::string::npos) {
    scanned = in_.size();
    fill(in_.size() + 1, deadline);
  }
  Reply reply;
  try {
    reply.json = nlohmann::json::parse(std::string_view(in_).substr(0, end));
  } catch (const nlohmann::json::exception&) {
    fail_garbage("not JSON: \"" + preview(std::string_view(in_).substr(0, end)) + "\"");
  }
  in_.erase(0, end + 1);
  return reply;
}

Reply BridgeWorker::read_frame(Clock::time_point deadline) {
  fill(kFrameHeaderSize, deadline);
  if (std::memcmp(in_.data(), kFrameMagic, 4) != 0 ||
      static_cast<unsigned char>(in_[4]) != kFrameVersion ||
      static_cast<unsigned char>(in_[5]) != kFrameReply) {
    fail_garbage("bad frame header \"" + preview(std::string_view(in_).substr(0, 16)) + "\"");
  }
  const std::uint32_t json_len = get_u32(in_, 8), payload_len = get_u32(in_, 12);
  if (json_len > kMaxJsonBytes || payload_len > kMaxPayloadBytes)
    fail_garbage("frame too large (" + std::to_string(json_len) + " + " +
                 std::to_string(payload_len) + " bytes)");
  const std::size_t total = kFrameHeaderSize + json_len + payload_len;
  fill(total, deadline);
  Reply reply;
  try {
    reply.json = nlohmann::json::parse(std::string_view(in_).substr(kFrameHeaderSize, json_len));
  } catch (const nlohmann::json::exception& e) {
    fail_garbage(std::string("frame JSON: ") + e.what());
  }
  reply.payload.assign(in_, kFrameHeaderSize + json_len, payload_len);
  in_.erase(0, total);
  return reply;
}

Reply BridgeWorker::read_reply(Clock::time_point deadline) {
  Reply reply = framing_ == BridgeFraming::Binary ? read_frame(deadline) : read_line(deadline);
  const auto status = reply.json.is_object() ? reply.json.find("status") : reply.json.end();
  if (status == reply.json.end() || !status->is_string())
    fail_garbage("a reply without a status: " + reply.json.dump().substr(0, 200));
  return reply;
}

void BridgeWorker::encode(const nlohmann::json& request, std::string& out) const {
  if (framing_ == BridgeFraming::Json) {
    out = request.dump();
    out += '\n';
    return;
  }
  out.assign(kFrameHeaderSize, '\0');
  std::memcpy(out.data(), kFrameMagic, 4);
  out[4] = static_cast<char>(kFrameVersion);
  out[5] = static_cast<char>(kFrameRequest);
  out += request.dump();
  put_u32(out, 8, static_cast<std::uint32_t>(out.size() - kFrameHeaderSize));
  put_u32(out, 12, 0);
}

namespace {

std::string string_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

nlohmann::json object_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return nlohmann::json::object();
  const auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : nlohmann::json::object();
}

}  // namespace

bool Reply::ok() const { return string_field(json, "status") == "ok"; }
std::string Reply::error_type() const { return string_field(object_field(json, "error"), "type"); }
std::string Reply::error_message() const {
  return string_field(object_field(json, "error"), "message");
}
nlohmann::json Reply::data() const { return object_field(json, "data"); }

Reply BridgeWorker::call(const nlohmann::json& request, std::chrono::milliseconds timeout) {
  if (!proc_) throw WorkerFailure(ErrorCode::Unavailable, name() + " is not running");
  const auto deadline = Clock::now() + timeout;
  budget_ = timeout;
  if (!in_.empty()) fail_garbage("unexpected output between requests: \"" + preview(in_) + "\"");
  encode(request, out_);
  send_all(out_, deadline);
  return read_reply(deadline);
}

// One call during start-up: a failure here is an Error for the constructor.
Reply BridgeWorker::checked_call(const nlohmann::json& request, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  Reply reply = call(request, std::max(left, std::chrono::milliseconds(1)));
  if (!reply.ok()) {
    throw Error(reply.error_type() == "ModelError" ? ErrorCode::ModelError : ErrorCode::Unavailable,
                name() + " failed its " + request.value("cmd", "") +
                    " check: " + reply.error_message() + stderr_tail());
  }
  return reply;
}

void BridgeWorker::await_ready(Clock::time_point deadline) {
  try {
    if (spec_.framing == BridgeFraming::Binary) {
      checked_call({{"cmd", "hello"}, {"framing", "binary"}}, deadline);
      framing_ = BridgeFraming::Binary;
    }
    checked_call({{"cmd", "health"}}, deadline);
    info_ = checked_call({{"cmd", "info"}}, deadline).data();
  } catch (const WorkerFailure& failure) {
    kill();
    const bool bad_model = last_exit_ && last_exit_->exited_with(kExitBadModel);
    throw Error(bad_model ? ErrorCode::ModelError : ErrorCode::Unavailable,
                std::string("the python bridge could not start: ") + failure.what());
  } catch (const Error&) {
    kill();
    throw;
  }
}

void BridgeWorker::kill() noexcept {
  if (!proc_) return;
  last_exit_ = proc_->kill_and_reap();
  drain_stderr();
  proc_.reset();
  pid_ = 0;
}

void BridgeWorker::request_stop() noexcept {
  if (!proc_) return;
  std::string bytes;
  encode({{"cmd", "shutdown"}}, bytes);
  // Best effort: the socket buffer takes it at once; a dead worker just fails.
  ::send(proc_->io(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  proc_->close_io();
}

void BridgeWorker::finish_stop() noexcept {
  if (!proc_) return;
  if (!proc_->wait_for(spec_.shutdown_grace)) {
    proc_->signal(SIGTERM);
    proc_->wait_for(spec_.shutdown_grace);
  }
  kill();  // SIGKILL only if still running; reaps in any case
}

}  // namespace akidb::embed::detail
