#pragma once
// The HTTP transport (cpp-httplib) in front of the Router, which holds the
// API itself. Lifecycle: bind() -> listen() on one thread -> attach() the
// loaded model (health turns 200 after a real probe) -> stop() from any
// thread (in-flight requests finish) -> listen() returns -> drain().
#include <memory>

#include "akidb/embed/provider.hpp"
#include "server/router.hpp"
#include "server/server_options.hpp"

namespace akidb::embed::server {

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
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
  // Stops accepting; requests in flight finish. Thread-safe.
  void stop();
  // After listen() returned: finishes queued batches and stops the workers.
  void drain();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed::server
