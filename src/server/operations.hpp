#pragma once
// What every answered request goes through on its way out, whatever answered
// it (the Router, a CORS preflight, a transport error): X-Request-Id, the
// CORS headers and the access-log line.
#include <chrono>
#include <string>

#include "server/access_log.hpp"
#include "server/cors.hpp"
#include "server/http_message.hpp"
#include "server/request_id.hpp"

namespace akidb::embed::server {

struct OperationsOptions {
  std::string cors_allow_origin;  // "": CORS off
  std::string access_log;         // "": off, "-": stdout, else a file
};

class Operations {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Operations(const OperationsOptions& options);

  // The preflight answer when `req` is a CORS preflight, else nothing.
  bool answer_preflight(const HttpRequest& req, HttpResponse& res) const;
  // Adds X-Request-Id and CORS headers and logs the request; `received` is
  // when its headers were read.
  void finish(const HttpRequest& req, HttpResponse& res, Clock::time_point received);

 private:
  RequestIds ids_;
  Cors cors_;
  AccessLog log_;
};

}  // namespace akidb::embed::server
