#include "server/cors.hpp"

namespace akidb::embed::server {
namespace {

constexpr const char* kAllowMethods = "GET, POST, OPTIONS";
constexpr const char* kAllowHeaders = "Authorization, Content-Type, X-Request-Id";
constexpr const char* kExposeHeaders = "X-Request-Id, Retry-After";
constexpr const char* kMaxAgeSeconds = "600";

}  // namespace

bool Cors::allowed(std::string_view origin) const {
  return enabled() && !origin.empty() && (allow_origin_ == "*" || origin == allow_origin_);
}

bool Cors::is_preflight(const HttpRequest& req) const {
  return enabled() && req.method == "OPTIONS" && !req.header("Origin").empty() &&
         !req.header("Access-Control-Request-Method").empty();
}

HttpResponse Cors::preflight(const HttpRequest& req) const {
  HttpResponse res;
  res.status = 204;
  res.content_type.clear();
  if (!allowed(req.header("Origin"))) return res;  // no allow headers: the browser refuses
  res.set_header("Access-Control-Allow-Methods", kAllowMethods);
  const auto requested = req.header("Access-Control-Request-Headers");
  res.set_header("Access-Control-Allow-Headers",
                 requested.empty() ? std::string(kAllowHeaders) : std::string(requested));
  res.set_header("Access-Control-Max-Age", kMaxAgeSeconds);
  return res;
}

void Cors::decorate(const HttpRequest& req, HttpResponse& res) const {
  const auto origin = req.header("Origin");
  if (!allowed(origin)) return;
  if (allow_origin_ == "*") {
    res.set_header("Access-Control-Allow-Origin", "*");
  } else {
    res.set_header("Access-Control-Allow-Origin", std::string(origin));
    res.set_header("Vary", "Origin");
  }
  if (req.method != "OPTIONS") res.set_header("Access-Control-Expose-Headers", kExposeHeaders);
}

}  // namespace akidb::embed::server
