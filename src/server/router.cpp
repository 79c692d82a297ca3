#include "server/router.hpp"

#include <chrono>

#include "akidb/embed/error.hpp"
#include "server/api_error.hpp"
#include "server/api_response.hpp"

namespace akidb::embed::server {
namespace {

using Clock = std::chrono::steady_clock;

ApiError unavailable(const std::string& message) {
  return {503, "server_error", "unavailable", message};
}

ApiError status_error(const HttpRequest& req, int status, std::size_t max_body) {
  switch (status) {
    case 413:
      if (req.header("Content-Type").starts_with("application/x-www-form-urlencoded")) {
        // cpp-httplib caps form bodies at 8 KiB (curl -d sends this type by default).
        return {413, "invalid_request_error", "payload_too_large",
                "form-urlencoded bodies are limited to 8192 bytes: send the JSON with "
                "'Content-Type: application/json'"};
      }
      return {
          413, "invalid_request_error", "payload_too_large",
          "the request body is larger than the limit of " + std::to_string(max_body) + " bytes"};
    case 408:
      return {408, "invalid_request_error", "request_timeout",
              "the request was not received in time"};
    default:
      return {status, status >= 500 ? "server_error" : "invalid_request_error", "http_error",
              "the request could not be processed (HTTP " + std::to_string(status) + ")"};
  }
}

}  // namespace

const Router::Route Router::kRoutes[] = {
    {"POST", "/v1/embeddings", &Router::embeddings}, {"POST", "/embed", &Router::embed},
    {"POST", "/tokenize", &Router::tokenize},        {"GET", "/health", &Router::health},
    {"GET", "/info", &Router::info_route},           {"GET", "/metrics", &Router::metrics_route},
};

Router::Router(ServerOptions options) : options_(std::move(options)) {}

Router::~Router() { drain(); }

std::string_view Router::route_label(std::string_view path) {
  for (const auto& route : kRoutes) {
    if (route.path == path) return route.path;
  }
  return "other";
}

// Which methods a known path takes (for 405 + Allow); "" for an unknown path.
std::string Router::allowed_methods(std::string_view path) {
  std::string methods;
  for (const auto& route : kRoutes) {
    if (route.path != path) continue;
    if (!methods.empty()) methods += ", ";
    methods += route.method;
  }
  return methods;
}

bool Router::authorized(const HttpRequest& req) const {
  if (options_.api_key.empty() || req.path == "/health") return true;
  return bearer_matches(req.header("Authorization"), options_.api_key);
}

void Router::require_ready() const {
  if (!ready_.load(std::memory_order_acquire)) throw unavailable("the model is still loading");
}

HttpResponse Router::error_response(const ApiError& error) const {
  HttpResponse res;
  res.status = error.status();
  if (error.status() == 503) res.set_header("Retry-After", "1");
  if (error.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.body = error_body(error);
  return res;
}

HttpResponse Router::handle(const HttpRequest& req) {
  const auto start = Clock::now();
  const auto label = route_label(req.path);
  HttpResponse res;
  try {
    res = dispatch(req);
  } catch (const ApiError& e) {
    res = error_response(e);
  } catch (const Error& e) {
    res = error_response(to_api_error(e));
  } catch (const std::bad_alloc&) {
    res = error_response(unavailable("out of memory"));
  } catch (const std::exception& e) {
    res = error_response({500, "server_error", "internal_error", e.what()});
  }
  metrics_.count_request(label, res.status);
  if (label != "other") {
    metrics_.observe_latency(label, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return res;
}

HttpResponse Router::dispatch(const HttpRequest& req) {
  if (!authorized(req)) {
    throw ApiError(401, "invalid_request_error", "invalid_api_key",
                   "missing or wrong API key: send 'Authorization: Bearer <key>'");
  }
  const std::string_view method = req.method == "HEAD" ? "GET" : req.method;
  for (const auto& route : kRoutes) {
    if (route.path == req.path && route.method == method) return (this->*route.handler)(req);
  }
  const auto allowed = allowed_methods(req.path);
  if (allowed.empty()) {
    throw ApiError(404, "invalid_request_error", "not_found",
                   "no route " + req.method + " " + req.path +
                       "; routes: POST /v1/embeddings, POST /embed, POST /tokenize, GET /health, "
                       "GET /info, GET /metrics");
  }
  auto res = error_response(
      {405, "invalid_request_error", "method_not_allowed",
       "method " + req.method + " is not allowed on " + req.path + "; use " + allowed});
  res.set_header("Allow", allowed);
  return res;
}

HttpResponse Router::transport_error(const HttpRequest& req, int status) {
  auto res = error_response(status_error(req, status, options_.max_body_bytes));
  metrics_.count_request(route_label(req.path), res.status);
  return res;
}

void Router::attach(EmbeddingProvider& provider) {
  provider_ = &provider;
  info_ = provider.model_info();
  info_labels_ = "model=\"" + info_.model + "\",engine=\"" + info_.backend + "\",device=\"" +
                 info_.device + "\",execution_provider=\"" + info_.execution_provider +
                 "\",variant=\"" + info_.variant + "\"";
  scheduler_ = std::make_unique<Scheduler>(
      provider, options_.scheduling,
      [this](const BatchStats& stats) { metrics_.observe_batch(stats); });
  const auto probe = provider.health_check();
  if (!probe.ok) throw Error(ErrorCode::ModelError, "health probe failed: " + probe.message);
  ready_.store(true, std::memory_order_release);
}

void Router::drain() {
  if (scheduler_) scheduler_->shutdown();
}

bool bearer_matches(std::string_view header, std::string_view key) noexcept {
  constexpr std::string_view kPrefix = "Bearer ";
  const bool prefix_ok = header.substr(0, kPrefix.size()) == kPrefix;
  const std::string_view given = prefix_ok ? header.substr(kPrefix.size()) : std::string_view{};
  // Touch every byte of the key whatever the input, so timing does not tell
  // how much of it matched.
  unsigned diff = given.size() == key.size() ? 0U : 1U;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff |=
        static_cast<unsigned>(static_cast<unsigned char>(g) ^ static_cast<unsigned char>(key[i]));
  }
  return prefix_ok && diff == 0;
}

}  // namespace akidb::embed::server
