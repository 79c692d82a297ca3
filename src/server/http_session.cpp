#include "server/http_session.hpp"

#include <poll.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <string_view>
#include <vector>

#include "server/http_framing.hpp"

namespace akidb::embed::server {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

// After an error response or "Connection: close": how long, and how much of
// what the client still sends, is read and dropped before the socket
// closes, so that the client reads the response instead of a reset.
constexpr std::chrono::milliseconds kLinger{2000};
constexpr std::uint64_t kMaxDrainBytes = 64ULL * 1024 * 1024;
constexpr std::size_t kDrainChunk = 16 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// True once the peer has hung up (or the socket failed). Safe on a handler
// thread: the connection keeps its socket open while its request runs.
bool peer_closed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  if (poll(&p, 1, 0) < 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

bool is_parse_error(const error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_method).category();
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

// RFC 9110 §10.1.1: an HTTP/1.0 client's expectation is ignored.
template <typename Message>
bool expects_continue(const Message& msg) {
  return msg.version() >= 11 && iequals(msg[http::field::expect], "100-continue");
}

template <typename Message>
FramingVerdict check_framing(const Message& msg) {
  std::vector<std::string_view> transfer_encoding;
  std::vector<std::string_view> content_length;
  for (const auto& field : msg) {
    if (field.name() == http::field::transfer_encoding) transfer_encoding.push_back(field.value());
    if (field.name() == http::field::content_length) content_length.push_back(field.value());
  }
  return check_request_framing(transfer_encoding, content_length, msg.version());
}

}  // namespace

Session::Session(tcp::socket socket, SessionHost& host, std::uint64_t id)
    : socket_(std::move(socket)), timer_(socket_.get_executor()), host_(host), id_(id) {}

Session::~Session() { host_.closed(id_); }

void Session::start() {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] { self->await_request(); });
}

void Session::close_if_idle() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    if (self->phase_ == Phase::Idle) self->close_now();
  });
}

void Session::refuse(std::shared_ptr<const std::string> response) {
  asio::dispatch(socket_.get_executor(), [self = shared_from_this(), response] {
    self->phase_ = Phase::Writing;
    self->raw_response_ = response;
    self->arm(kLinger);
    asio::async_write(self->socket_, asio::buffer(*response), [self](error_code ec, std::size_t) {
      self->disarm();
      if (ec) return self->close_now();
      self->close_gracefully();
    });
  });
}

void Session::arm(std::chrono::milliseconds timeout) {
  timed_out_ = false;
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this(), generation = ++timer_generation_](error_code ec) {
    if (ec || generation != self->timer_generation_) return;
    self->timed_out_ = true;
    error_code ignored;
    self->socket_.cancel(ignored);
  });
}

void Session::disarm() {
  ++timer_generation_;
  timer_.cancel();
}

// Idle: no buffer, no parser, only the socket, a timer and a pending wait.
void Session::await_request() {
  if (host_.stopping()) return close_now();
  if (buffer_.size() > 0) return read_header();  // a pipelined request is already here
  phase_ = Phase::Idle;
  arm(host_.limits().keep_alive);
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (self->phase_ != Phase::Idle) return;
    self->disarm();
    if (ec) return self->close_now();  // keep-alive timeout, stop, or a failed socket
    self->read_header();
  });
}

void Session::read_header() {
  phase_ = Phase::Header;
  const auto& limits = host_.limits();
  parser_.emplace();
  parser_->header_limit(limits.max_header);
  parser_->body_limit(limits.max_body);
  arm(limits.header_timeout);
  http::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(error_code ec) {
  received_ = Clock::now();
  if (ec) return on_read_error(ec);
  disarm();
  if (auto verdict = check_framing(parser_->get())) {
    return answer_transport_error(verdict.status, verdict.reason);
  }
  if (!parser_->is_done() && expects_continue(parser_->get())) return answer_expectation();
  read_body();
}

// Expect: 100-continue: the client waits for our word before it sends the
// body, so everything the headers alone can refuse is refused first (413
// by its declared length is Beast's, at the headers; 401 here), without
// reading the body, and the connection then closes.
void Session::answer_expectation() {
  if (auto refusal = host_.screen(request_from(*parser_, false), received_)) {
    const auto& msg = parser_->get();
    version_ = msg.version();
    head_ = msg.method() == http::verb::head;
    keep_alive_ = false;  // the unread body would be taken for the next request
    parser_.reset();
    return write(std::move(*refusal));
  }
  phase_ = Phase::Body;
  arm(host_.limits().body_timeout);
  asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                    [self = shared_from_this()](error_code write_ec, std::size_t) {
                      if (write_ec) return self->on_read_error(write_ec);
                      self->disarm();
                      self->read_body();
                    });
}

void Session::read_body() {
  if (parser_->is_done()) return dispatch();
  phase_ = Phase::Body;
  arm(host_.limits().body_timeout);
  http::async_read(socket_, buffer_, *parser_,
                   [self = shared_from_this()](error_code ec, std::size_t) {
                     if (ec) return self->on_read_error(ec);
                     self->disarm();
                     self->dispatch();
                   });
}

void Session::on_read_error(error_code ec) {
  const bool timed_out = timed_out_;
  disarm();
  if (phase_ == Phase::Closed) return;
  if (timed_out) return answer_transport_error(408, {});
  if (ec == http::error::body_limit) return answer_transport_error(413, {});
  if (ec == http::error::header_limit) return answer_transport_error(431, {});
  if (ec != http::error::end_of_stream && is_parse_error(ec)) {
    return answer_transport_error(400, ec.message());  // "bad Content-Length", ...
  }
  close_now();  // the client closed or reset the connection
}

HttpRequest Session::request_from(Parser& parser, bool with_body) {
  auto& msg = parser.get();
  HttpRequest req;
  req.method = std::string(msg.method_string());
  const auto target = msg.target();
  req.path = std::string(target.substr(0, target.find('?')));
  req.headers.reserve(8);
  for (const auto& field : msg) {
    req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  if (with_body) req.body = std::move(msg.body());
  error_code ec;
  const auto peer = socket_.remote_endpoint(ec);
  if (!ec) req.remote_addr = peer.address().to_string();
  return req;
}

void Session::dispatch() {
  phase_ = Phase::Handling;
  const auto& msg = parser_->get();
  keep_alive_ = msg.keep_alive();
  head_ = msg.method() == http::verb::head;
  version_ = msg.version();
  auto req = request_from(*parser_, true);
  parser_.reset();
  if (head_) req.method = "GET";  // answered as GET; write() sends the headers only
  req.client_gone = [fd = socket_.native_handle()] { return peer_closed(fd); };
  host_.answer(std::move(req), received_, [self = shared_from_this()](HttpResponse res) {
    asio::post(self->socket_.get_executor(),
               [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
  });
}

void Session::answer_transport_error(int status, std::string_view reason) {
  const bool have_header = parser_ && parser_->is_header_done();
  HttpRequest req;
  if (have_header) {
    req = request_from(*parser_, false);
    version_ = parser_->get().version();
    head_ = parser_->get().method() == http::verb::head;
  } else {
    version_ = 11;
    head_ = false;
    // The request line may be in even when the fields are not (a body
    // refused by its Content-Length, a header deadline): its path picks the
    // route's error shape.
    if (parser_) {
      const auto& msg = parser_->get();
      req.method = std::string(msg.method_string());
      const auto target = msg.target();
      req.path = std::string(target.substr(0, target.find('?')));
    }
  }
  parser_.reset();
  keep_alive_ = false;  // what follows on this connection cannot be trusted
  write(host_.refuse(req, status, reason, received_));
}

void Session::write(HttpResponse res) {
  if (phase_ == Phase::Closed) return;
  phase_ = Phase::Writing;
  auto& out = response_.emplace();
  out.version(version_ == 10 ? 10 : 11);
  out.result(static_cast<unsigned>(res.status));
  if (!res.content_type.empty()) out.set(http::field::content_type, res.content_type);
  for (const auto& [name, value] : res.headers) out.insert(name, value);
  const bool keep = keep_alive_ && !host_.stopping();
  out.keep_alive(keep);
  const bool bodiless = res.status < 200 || res.status == 204 || res.status == 304;
  if (!bodiless) out.content_length(res.body.size());  // HEAD: the GET body's length
  if (!bodiless && !head_) out.body() = std::move(res.body);
  arm(host_.limits().write_timeout);
  http::async_write(socket_, out, [self = shared_from_this(), keep](error_code ec, std::size_t) {
    self->on_write(ec, keep);
  });
}

void Session::on_write(error_code ec, bool keep_alive) {
  disarm();
  response_.reset();
  if (ec) return close_now();
  if (!keep_alive) return close_gracefully();
  if (buffer_.size() == 0) buffer_.shrink_to_fit();  // an idle connection holds no buffer
  await_request();
}

// Half-close, then read and drop what the client still sends until it
// closes too (or kLinger passes), so it reads our response, not a reset.
void Session::close_gracefully() {
  phase_ = Phase::Closing;
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  buffer_.clear();
  arm(kLinger);
  drain();
}

void Session::drain() {
  socket_.async_read_some(buffer_.prepare(kDrainChunk),
                          [self = shared_from_this()](error_code ec, std::size_t n) {
                            self->drained_bytes_ += n;
                            if (ec || self->drained_bytes_ > kMaxDrainBytes) {
                              return self->close_now();
                            }
                            self->drain();
                          });
}

void Session::close_now() {
  if (phase_ == Phase::Closed) return;
  phase_ = Phase::Closed;
  disarm();
  error_code ignored;
  socket_.close(ignored);
  buffer_ = {};
  parser_.reset();
  response_.reset();
}

}  // namespace akidb::embed::server
