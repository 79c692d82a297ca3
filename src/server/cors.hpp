#pragma once
// CORS (`--cors-allow-origin`): off when the origin is empty. With "*" any
// origin may call; otherwise only that exact origin (scheme://host[:port]).
// Preflights (OPTIONS with Origin and Access-Control-Request-Method) are
// answered here with 204 and the allow headers, before auth and routing,
// as browsers send preflights without credentials.
#include <string>

#include "server/http_message.hpp"

namespace akidb::embed::server {

class Cors {
 public:
  explicit Cors(std::string allow_origin) : allow_origin_(std::move(allow_origin)) {}

  bool enabled() const { return !allow_origin_.empty(); }
  bool is_preflight(const HttpRequest& req) const;
  HttpResponse preflight(const HttpRequest& req) const;
  // Adds Access-Control-Allow-Origin (and Vary, Expose-Headers) when the
  // request's Origin is allowed.
  void decorate(const HttpRequest& req, HttpResponse& res) const;

 private:
  bool allowed(std::string_view origin) const;

  std::string allow_origin_;
};

}  // namespace akidb::embed::server
