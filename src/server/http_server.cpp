#include "server/http_server.hpp"

#include <sys/resource.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "akidb/embed/error.hpp"
#include "server/http_session.hpp"

namespace akidb::embed::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// After accept() fails for want of file descriptors: wait, then try again.
constexpr std::chrono::milliseconds kAcceptPause{50};

std::string busy_response(std::size_t cap) {
  const std::string body =
      R"({"error":{"message":"too many open connections (the server's limit is )" +
      std::to_string(cap) +
      R"(); retry later","type":"server_error","code":"too_many_connections","param":null}})";
  return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

// Each connection is a file descriptor: raise the soft limit toward the hard
// one so the connection cap, not the default 1024 descriptors, is the limit.
void raise_fd_limit(std::size_t wanted, const ServerLog& log) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  const rlim_t target =
      limit.rlim_max == RLIM_INFINITY ? wanted : std::min<rlim_t>(wanted, limit.rlim_max);
  limit.rlim_cur = std::max(limit.rlim_cur, target);
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    log.write("warning", "the file descriptor limit caps connections below --max-connections",
              {{"nofile", std::to_string(limit.rlim_cur)}});
  }
}

}  // namespace

struct HttpServer::Impl final : SessionHost {
  Impl(ServerOptions o, TransportOptions t);

  // SessionHost
  const SessionLimits& limits() const override { return limits_; }
  bool stopping() const override { return stopping_.load(std::memory_order_acquire); }
  void answer(HttpRequest req, Clock::time_point received, Reply reply) override;
  HttpResponse refuse(const HttpRequest& req, int status, std::string_view reason,
                      Clock::time_point received) override;
  std::optional<HttpResponse> screen(const HttpRequest& req, Clock::time_point received) override;
  void closed(std::uint64_t id) override;

  void accept();
  void on_accept(error_code ec, tcp::socket socket);
  std::shared_ptr<Session> open_session(tcp::socket& socket);
  void close_idle_sessions();

  Router router;
  TransportOptions transport;
  ServerLog log;
  Operations operations;
  SessionLimits limits_;
  std::shared_ptr<const std::string> busy;
  // Set once (stop(): exchange, so stop() is idempotent) and never cleared;
  // read by the I/O threads' steps, which then wind their connection down.
  std::atomic<bool> stopping_{false};
  // True while listen() runs io.run(); read by running() (start-up polling).
  std::atomic<bool> running_{false};
  // Invariant: `sessions` and `next_id` are touched only under
  // `sessions_mutex`. The registry holds weak pointers, so it never keeps a
  // connection alive, and a Session unregisters in its destructor (closed()),
  // which takes the mutex: so no Session may be released while the mutex is
  // held, or its destructor would lock it again. close_idle_sessions() copies
  // the live ones out under the lock and uses (and drops) them after it.
  std::mutex sessions_mutex;
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions;
  std::uint64_t next_id = 1;
  // Declared after the registry: destroying the io_context destroys pending
  // handlers, and with them sessions that unregister.
  asio::io_context io;
  asio::strand<asio::io_context::executor_type> accept_strand;
  tcp::acceptor acceptor;
  asio::steady_timer accept_pause;
  // Destroyed first: its unrun handlers hold work on `io`.
  asio::thread_pool handlers;
};

HttpServer::Impl::Impl(ServerOptions o, TransportOptions t)
    : router(std::move(o), t.log_format),
      transport(std::move(t)),
      log(transport.log_format),
      operations(transport.operations),
      busy(std::make_shared<const std::string>(busy_response(transport.max_connections))),
      io(static_cast<int>(std::max<std::size_t>(1, transport.io_threads))),
      accept_strand(asio::make_strand(io)),
      acceptor(accept_strand),
      accept_pause(accept_strand),
      handlers(std::max<std::size_t>(1, router.options().http_threads)) {
  const auto& ro = router.options();
  const std::chrono::milliseconds io_timeout = ro.io_timeout;
  limits_.header_timeout = io_timeout;
  limits_.body_timeout = io_timeout;
  limits_.write_timeout = io_timeout;
  limits_.keep_alive = ro.keep_alive_timeout;
  limits_.max_body = ro.max_body_bytes;
}

// The hand-off from an I/O thread to a handler thread. The handler owns the
// request (moved in) and touches nothing of the connection but its
// client_gone poll (see Session's members) and `reply`, which posts the
// response back onto the connection's strand. The work guard keeps
// io.run() -- and so listen(), the io_context and every strand -- alive until
// the handler has run (or been destroyed unrun by ~thread_pool), so a reply
// always finds its strand.
void HttpServer::Impl::answer(HttpRequest req, Clock::time_point received, Reply reply) {
  asio::post(handlers, [this, req = std::move(req), received, reply = std::move(reply),
                        work = asio::make_work_guard(io)]() mutable {
    HttpResponse res;
    if (!operations.answer_preflight(req, res)) res = router.handle(req);
    operations.finish(req, res, received);
    reply(std::move(res));
  });
}

HttpResponse HttpServer::Impl::refuse(const HttpRequest& req, int status, std::string_view reason,
                                      Clock::time_point received) {
  auto res = router.transport_error(req, status, reason);
  operations.finish(req, res, received);
  return res;
}

std::optional<HttpResponse> HttpServer::Impl::screen(const HttpRequest& req,
                                                     Clock::time_point received) {
  HttpResponse preflight;
  if (operations.answer_preflight(req, preflight)) return std::nullopt;  // no key asked
  auto res = router.screen(req);
  if (res) operations.finish(req, *res, received);
  return res;
}

void HttpServer::Impl::closed(std::uint64_t id) {
  if (id == 0) return;
  const std::lock_guard lock(sessions_mutex);
  sessions.erase(id);
}

std::shared_ptr<Session> HttpServer::Impl::open_session(tcp::socket& socket) {
  const std::lock_guard lock(sessions_mutex);
  if (sessions.size() >= transport.max_connections) return nullptr;
  const auto id = next_id++;
  auto session = std::make_shared<Session>(std::move(socket), *this, id);
  sessions.emplace(id, session);
  return session;
}

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [this](error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void HttpServer::Impl::on_accept(error_code ec, tcp::socket socket) {
  if (stopping() || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors (or another transient failure): pause, do not spin.
    log.error("accept failed; pausing", {{"error", ec.message()}});
    accept_pause.expires_after(kAcceptPause);
    accept_pause.async_wait([this](error_code wait_ec) {
      if (!wait_ec && !stopping()) accept();
    });
    return;
  }
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (auto session = open_session(socket)) {
    session->start();
  } else {
    std::make_shared<Session>(std::move(socket), *this, 0)->refuse(busy);
  }
  accept();
}

void HttpServer::Impl::close_idle_sessions() {
  std::vector<std::shared_ptr<Session>> live;
  {
    const std::lock_guard lock(sessions_mutex);
    live.reserve(sessions.size());
    for (const auto& [id, weak] : sessions) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (const auto& session : live) session->close_if_idle();
}

HttpServer::HttpServer(ServerOptions options, TransportOptions transport)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(transport))) {}

HttpServer::~HttpServer() {
  stop();
  drain();
}

int HttpServer::bind() {
  auto& impl = *impl_;
  const auto& o = impl.router.options();
  raise_fd_limit(impl.transport.max_connections + 256, impl.log);
  const auto fail = [&o](const std::string& why) {
    return Error(ErrorCode::Unavailable,
                 "cannot listen on " + o.host + ":" + std::to_string(o.port) + " (" + why + ")");
  };
  error_code ec;
  tcp::resolver resolver(impl.io);
  const auto found = resolver.resolve(o.host, std::to_string(o.port),
                                      tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty()) throw fail(ec ? ec.message() : "no address");
  const tcp::endpoint endpoint = found.begin()->endpoint();
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw fail(ec.message() + "; in use?");
  return impl.acceptor.local_endpoint().port();
}

void HttpServer::listen() {
  auto& impl = *impl_;
  if (impl.stopping()) return;
  asio::post(impl.accept_strand, [&impl] { impl.accept(); });
  std::vector<std::jthread> extra;
  for (std::size_t i = 1; i < impl.transport.io_threads; ++i) {
    extra.emplace_back([&impl] { impl.io.run(); });
  }
  impl.running_.store(true, std::memory_order_release);
  impl.io.run();  // returns once the acceptor is closed and every connection ended
  extra.clear();
  impl.running_.store(false, std::memory_order_release);
}

bool HttpServer::running() const { return impl_->running_.load(std::memory_order_acquire); }

void HttpServer::attach(EmbeddingProvider& provider) { impl_->router.attach(provider); }

void HttpServer::attach(const std::vector<ModelAttachment>& models) {
  impl_->router.attach(models);
}

void HttpServer::stop() {
  auto& impl = *impl_;
  if (impl.stopping_.exchange(true, std::memory_order_acq_rel)) return;
  asio::post(impl.accept_strand, [&impl] {
    error_code ignored;
    impl.acceptor.close(ignored);
    impl.accept_pause.cancel();
    impl.close_idle_sessions();
  });
}

void HttpServer::drain() { impl_->router.drain(); }

}  // namespace akidb::embed::server
