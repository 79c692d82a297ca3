#pragma once
// The HTTP/1.1 transport (Boost.Beast/Asio, event-driven) in front of the
// Router, which holds the API itself. A few I/O threads run every socket
// asynchronously (src/server/http_session.hpp); requests are answered on a
// bounded pool of handler threads, where they may block in the Scheduler.
//
// Lifecycle: bind() -> listen() on one thread -> attach() the loaded model
// (health turns 200 after a real probe) -> stop() from any thread (stops
// accepting, closes idle connections; requests in flight finish) ->
// listen() returns -> drain().
#include <cstddef>
#include <memory>
#include <vector>

#include "akidb/embed/provider.hpp"
#include "server/operations.hpp"
#include "server/router.hpp"
#include "server/server_log.hpp"
#include "server/server_options.hpp"

namespace akidb::embed::server {

// The transport's own settings (the API's are in ServerOptions:
// http_threads = handler threads, io_timeout, keep_alive_timeout,
// max_body_bytes).
struct TransportOptions {
  std::size_t io_threads = 1;           // threads running every socket
  std::size_t max_connections = 16384;  // beyond it: 503 + Retry-After, then close
  OperationsOptions operations;         // CORS, access log
  LogFormat log_format = LogFormat::Text;
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options, TransportOptions transport = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port; returns the port. Throws Error(Unavailable) on failure.
  int bind();
  // Serves until stop(); blocks. Before attach() every route but /health
  // answers 503 and /health answers 503.
  void listen();
  bool running() const;
  // Hands the server a loaded model and probes it; throws the probe's error.
  void attach(EmbeddingProvider& provider);
  // Several models, the first the default (Router::attach).
  void attach(const std::vector<ModelAttachment>& models);
  // Stops accepting; requests in flight finish. Thread-safe.
  void stop();
  // After listen() returned: finishes queued batches and stops the workers.
  void drain();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed::server
