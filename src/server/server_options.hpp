#pragma once
// Everything `akidb-embed serve` can be told about HTTP, limits and batching.
#include <chrono>
#include <cstddef>
#include <string>

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

}  // namespace akidb::embed::server
