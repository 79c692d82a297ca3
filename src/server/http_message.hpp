#pragma once
// A request and a response as the API sees them, with no HTTP library in
// sight: the transport (src/server/http_server.cpp) turns its own types into
// these and back, and the Router (router.hpp) only ever sees these.
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace akidb::embed::server {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  Headers headers;
  std::string body;
  std::string remote_addr;
  // True once the client has hung up; polled while the request waits for its
  // vectors. The transport sets it; empty means "cannot tell".
  std::function<bool()> client_gone;

  // The first header of this name (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

// What a request cost, for the access log and the metrics.
struct RequestStats {
  std::size_t inputs = 0;
  std::size_t tokens = 0;
  double queue_ms = 0.0;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  Headers headers;
  RequestStats stats;

  void set_header(std::string name, std::string value);
};

}  // namespace akidb::embed::server
