#include "server/http_server.hpp"

#include <httplib.h>

#include "akidb/embed/error.hpp"
#include "server/client_watch.hpp"

namespace akidb::embed::server {
namespace {

HttpRequest to_request(const httplib::Request& req) {
  HttpRequest out;
  out.method = req.method;
  out.path = req.path;
  out.body = req.body;
  out.remote_addr = req.remote_addr;
  out.headers.reserve(req.headers.size());
  for (const auto& [name, value] : req.headers) out.headers.emplace_back(name, value);
  // cpp-httplib gives a handler no socket: find it by its endpoints, once,
  // and only if the request waits long enough to ask.
  out.client_gone =
      [ends = ConnectionEnds{req.local_addr, req.local_port, req.remote_addr, req.remote_port},
       fd = -2]() mutable {
        if (fd == -2) fd = find_connection_socket(ends);
        return fd >= 0 && peer_closed(fd);
      };
  return out;
}

void write_response(HttpResponse&& from, httplib::Response& to) {
  to.status = from.status;
  for (auto& [name, value] : from.headers) to.set_header(name, value);
  to.set_content(std::move(from.body), from.content_type);
}

}  // namespace

struct HttpServer::Impl {
  Router router;
  httplib::Server http;

  explicit Impl(ServerOptions o) : router(std::move(o)) { configure(); }
  void configure();
};

void HttpServer::Impl::configure() {
  const auto& o = router.options();
  const auto threads = o.http_threads;
  // cpp-httplib takes ownership of the queue it gets from this factory.
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(o.max_body_bytes);
  http.set_read_timeout(o.io_timeout);
  http.set_write_timeout(o.io_timeout);
  http.set_keep_alive_timeout(o.keep_alive_timeout.count());
  http.set_keep_alive_max_count(100000);
  http.set_tcp_nodelay(true);
  const auto route = [this](const httplib::Request& req, httplib::Response& res) {
    write_response(router.handle(to_request(req)), res);
  };
  // Every method and path goes to the Router, which owns 404 and 405.
  http.Get(".*", route);
  http.Post(".*", route);
  http.Put(".*", route);
  http.Patch(".*", route);
  http.Delete(".*", route);
  http.Options(".*", route);
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        write_response(router.transport_error(to_request(req), res.status), res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(R"({"error":{"message":"internal error","type":"server_error"}})",
                        "application/json");
      });
}

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() {
  stop();
  drain();
}

int HttpServer::bind() {
  const auto& o = impl_->router.options();
  const int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host)
                               : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) {
    throw Error(ErrorCode::Unavailable,
                "cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use?)");
  }
  return port;
}

void HttpServer::listen() { impl_->http.listen_after_bind(); }

bool HttpServer::running() const { return impl_->http.is_running(); }

void HttpServer::attach(EmbeddingProvider& provider) { impl_->router.attach(provider); }

void HttpServer::stop() { impl_->http.stop(); }

void HttpServer::drain() { impl_->router.drain(); }

}  // namespace akidb::embed::server
