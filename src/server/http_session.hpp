#pragma once
// One HTTP/1.1 connection (Boost.Beast on an Asio socket), run on the I/O
// threads as a chain of asynchronous steps on the connection's own strand:
//
//   idle ── first byte ──► headers ──► [100 Continue] ──► body ──► handler pool
//    ▲       (keep-alive     (header      (on Expect, once  (body      (no I/O thread;
//    │        deadline,       deadline,    the key and the   deadline)  the peer is watched)
//    │        no buffer)      framing      length passed)                   │
//    │                        checked)                                      │
//    └────────────── keep-alive ◄──── write (write deadline) ◄──────────────┘
//
// One request at a time per connection: the next pipelined request is read
// only after the previous response is written. A failed read (too slow,
// too large, malformed) gets its error response, then a lingering close.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "server/http_message.hpp"

namespace akidb::embed::server {

struct SessionLimits {
  std::chrono::milliseconds header_timeout{10000};  // first byte -> end of headers
  std::chrono::milliseconds body_timeout{10000};    // end of headers -> end of body
  std::chrono::milliseconds write_timeout{10000};   // the whole response
  std::chrono::milliseconds keep_alive{5000};       // idle between requests
  std::uint64_t max_body = 4 * 1024 * 1024;
  std::uint32_t max_header = 64 * 1024;
};

// What a connection needs from its server.
class SessionHost {
 public:
  using Clock = std::chrono::steady_clock;
  using Reply = std::function<void(HttpResponse)>;

  virtual const SessionLimits& limits() const = 0;
  virtual bool stopping() const = 0;
  // Answers on a handler thread (never an I/O thread); calls `reply` there.
  virtual void answer(HttpRequest req, Clock::time_point received, Reply reply) = 0;
  // The answer to a request the transport refused (408, 413, 431, 400,
  // 501); `reason` says why where the status alone does not, or is empty.
  virtual HttpResponse refuse(const HttpRequest& req, int status, std::string_view reason,
                              Clock::time_point received) = 0;
  // A request's headers (no body yet) on an I/O thread, before the body is
  // asked for with 100 Continue: its refusal (401), or nothing. Must not block.
  virtual std::optional<HttpResponse> screen(const HttpRequest& req,
                                             Clock::time_point received) = 0;
  // Called by the connection's destructor.
  virtual void closed(std::uint64_t id) = 0;

 protected:
  ~SessionHost() = default;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  using tcp = boost::asio::ip::tcp;

  // id 0: not counted by the host (a refused connection).
  Session(tcp::socket socket, SessionHost& host, std::uint64_t id);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts serving; any thread.
  void start();
  // Graceful stop: closes the connection if it waits for a request; a
  // request being read or answered finishes first. Any thread.
  void close_if_idle();
  // Over the connection cap: writes `response` (a complete HTTP response)
  // without reading a request, then closes. Any thread.
  void refuse(std::shared_ptr<const std::string> response);

 private:
  enum class Phase { Idle, Header, Body, Handling, Writing, Closing, Closed };
  using Clock = std::chrono::steady_clock;
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  void await_request();
  void read_header();
  void on_header(boost::system::error_code ec);
  void answer_expectation();
  void read_body();
  void on_read_error(boost::system::error_code ec);
  void dispatch();
  void answer_transport_error(int status, std::string_view reason);
  void write(HttpResponse res);
  void on_write(boost::system::error_code ec, bool keep_alive);
  void close_gracefully();
  void drain();
  void close_now();
  void arm(std::chrono::milliseconds timeout);
  void disarm();
  HttpRequest request_from(Parser& parser, bool with_body);

  // Invariant: every member below is touched only on the connection's strand
  // (the socket's executor): start(), close_if_idle(), refuse() and the
  // handler's reply all post or dispatch onto it, and every completion
  // handler runs there. The one exception is the request's client_gone
  // callback, which polls the socket's descriptor from a handler thread; that
  // is safe because in Phase::Handling nothing on the strand closes the
  // socket (no read or timer is pending, close_if_idle() closes only an Idle
  // connection) and the reply callback holds the Session alive, so the
  // descriptor stays this connection's until the reply is posted back.
  tcp::socket socket_;
  boost::asio::steady_timer timer_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::optional<Response> response_;
  std::shared_ptr<const std::string> raw_response_;
  SessionHost& host_;
  std::uint64_t id_;
  Clock::time_point received_{};
  std::uint64_t timer_generation_ = 0;
  std::uint64_t drained_bytes_ = 0;
  Phase phase_ = Phase::Idle;
  unsigned version_ = 11;
  bool timed_out_ = false;
  bool keep_alive_ = false;
  bool head_ = false;
};

}  // namespace akidb::embed::server
