#pragma once
// The HTTP API (OpenAI- and TEI-compatible) on cpp-httplib, in front of a
// Scheduler. Lifecycle: bind() -> listen() on one thread -> attach()
// the loaded model (health turns 200 after a real probe) -> stop() from any
// thread (in-flight requests finish) -> listen() returns -> drain().
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "akidb/embed/provider.hpp"
#include "akidb/embed/scheduler.hpp"
#include "server/api_request.hpp"

namespace akidb::embed::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port
  SchedulerOptions scheduling;
  RequestLimits limits;
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds request_timeout{30000};
  std::string api_key;                  // empty: no auth
  std::size_t http_threads = 96;        // connections served at once (keep-alive holds one each)
  std::chrono::seconds io_timeout{10};  // slow clients: read/write timeout
  std::chrono::seconds keep_alive_timeout{5};  // idle keep-alive connections
};

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

// Constant-time comparison of an Authorization header with "Bearer <key>".
bool bearer_matches(std::string_view header, std::string_view key) noexcept;

}  // namespace akidb::embed::server
