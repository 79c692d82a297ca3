#include "server/router.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "akidb/embed/error.hpp"
#include "server/api_error.hpp"
#include "server/api_response.hpp"

namespace akidb::embed::server {
namespace {

using Clock = std::chrono::steady_clock;

// How often a waiting request checks whether its client is still there.
constexpr std::chrono::milliseconds kClientPoll{20};

ApiError unavailable(const std::string& message) {
  return {503, "server_error", "unavailable", message};
}

ApiError unauthorized() {
  return {401, "invalid_request_error", "invalid_api_key",
          "missing or wrong API key: send 'Authorization: Bearer <key>'"};
}

ApiError status_error(const HttpRequest& req, int status, std::size_t max_body,
                      std::string_view reason) {
  const std::string because = reason.empty() ? std::string() : ": " + std::string(reason);
  switch (status) {
    case 413:
      return {
          413, "invalid_request_error", "payload_too_large",
          "the request body is larger than the limit of " + std::to_string(max_body) + " bytes"};
    case 408:
      return {408, "invalid_request_error", "request_timeout",
              "the request was not received in time"};
    case 431:
      return {431, "invalid_request_error", "headers_too_large",
              "the request headers are larger than the server's limit"};
    case 400:
      return {400, "invalid_request_error", "bad_request",
              "the request is not valid HTTP/1.1 (" +
                  std::string(req.method.empty() ? "no method" : req.method) + " " + req.path +
                  ")" + because};
    case 501:
      return {501, "invalid_request_error", "not_implemented",
              "the request cannot be read by this server" + because};
    default:
      return {status, status >= 500 ? "server_error" : "invalid_request_error", "http_error",
              "the request could not be processed (HTTP " + std::to_string(status) + ")" + because};
  }
}

constexpr auto kOpenAi = ErrorStyle::OpenAi;
constexpr auto kTei = ErrorStyle::Tei;

}  // namespace

// Every route; docs/openapi.json describes each (tests/e2e/test_openapi.py checks both agree).
const Router::Route Router::kRoutes[] = {
    {"POST", "/v1/embeddings", &Router::embeddings, kOpenAi},
    {"GET", "/v1/models", &Router::models, kOpenAi},
    {"GET", "/v1/models/", &Router::model, kOpenAi, true},
    {"POST", "/", &Router::root, kTei},
    {"POST", "/embed", &Router::embed, kTei},
    {"POST", "/embed_all", &Router::embed_all, kTei},
    {"POST", "/similarity", &Router::similarity, kTei},
    {"POST", "/tokenize", &Router::tokenize, kTei},
    {"POST", "/decode", &Router::decode, kTei},
    {"GET", "/health", &Router::health, kTei},
    {"GET", "/info", &Router::info_route, kTei},
    {"GET", "/metrics", &Router::metrics_route, kTei},
    {"GET", "/openapi.json", &Router::openapi, kTei},
    {"GET", "/docs", &Router::docs, kTei},
    {"GET", "/docs/", &Router::docs_asset, kTei, true},
};

Router::Router(ServerOptions options, LogFormat log_format)
    : options_(std::move(options)), log_(log_format) {}

Router::~Router() { drain(); }

bool Router::matches(const Route& route, std::string_view path) noexcept {
  if (!route.prefix) return route.path == path;
  return path.size() > route.path.size() && path.starts_with(route.path) &&
         path.find('/', route.path.size()) == std::string_view::npos;
}

const Router::Route* Router::find_path(std::string_view path) noexcept {
  for (const auto& route : kRoutes) {
    if (matches(route, path)) return &route;
  }
  return nullptr;
}

std::string_view Router::route_label(std::string_view path) {
  const Route* route = find_path(path);
  return route ? route->path : "other";
}

// OpenAI's error bodies under /v1/, TEI's everywhere else (unknown paths too).
ErrorStyle Router::style_of(std::string_view path) noexcept {
  if (path.empty()) return ErrorStyle::OpenAi;  // no request line read: the generic shape
  const Route* route = find_path(path);
  if (route) return route->style;
  return path.starts_with("/v1/") ? ErrorStyle::OpenAi : ErrorStyle::Tei;
}

// Which methods a known path takes (for 405 + Allow); "" for an unknown path.
std::string Router::allowed_methods(std::string_view path) {
  std::string methods;
  for (const auto& route : kRoutes) {
    if (!matches(route, path)) continue;
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

HttpResponse Router::error_response(const ApiError& error, ErrorStyle style) const {
  HttpResponse res;
  if (style == ErrorStyle::Tei) {
    const auto tei = to_tei_error(error);
    res.status = tei.status;
    res.body = tei_error_body(error, tei.error_type);
  } else {
    res.status = error.status();
    res.body = error_body(error);
  }
  if (res.status == 503 || res.status == 429) res.set_header("Retry-After", "1");
  if (res.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  return res;
}

HttpResponse Router::handle(const HttpRequest& req) {
  const auto start = Clock::now();
  const auto label = route_label(req.path);
  const auto style = style_of(req.path);
  HttpResponse res;
  try {
    res = dispatch(req);
  } catch (const ApiError& e) {
    res = error_response(e, style);
  } catch (const Error& e) {
    res = error_response(to_api_error(e), style);
  } catch (const std::bad_alloc&) {
    res = error_response(unavailable("out of memory"), style);
  } catch (const std::exception& e) {
    res = error_response({500, "server_error", "internal_error", e.what()}, style);
  }
  metrics_.count_request(label, res.status);
  if (label != "other") {
    metrics_.observe_latency(label, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return res;
}

HttpResponse Router::dispatch(const HttpRequest& req) {
  if (!authorized(req)) throw unauthorized();
  // Both branches string_view: a std::string temporary would dangle.
  const std::string_view method =
      req.method == "HEAD" ? std::string_view("GET") : std::string_view(req.method);
  for (const auto& route : kRoutes) {
    if (route.method == method && matches(route, req.path)) return (this->*route.handler)(req);
  }
  const auto allowed = allowed_methods(req.path);
  if (allowed.empty()) {
    throw ApiError(404, "invalid_request_error", "not_found",
                   "no route " + req.method + " " + req.path +
                       "; GET /openapi.json lists every route (GET /docs shows them)");
  }
  auto res = error_response(
      {405, "invalid_request_error", "method_not_allowed",
       "method " + req.method + " is not allowed on " + req.path + "; use " + allowed},
      style_of(req.path));
  res.set_header("Allow", allowed);
  return res;
}

std::optional<HttpResponse> Router::screen(const HttpRequest& req) {
  if (authorized(req)) return std::nullopt;
  auto res = error_response(unauthorized(), style_of(req.path));
  metrics_.count_request(route_label(req.path), res.status);
  return res;
}

HttpResponse Router::transport_error(const HttpRequest& req, int status, std::string_view reason) {
  const auto allowed = allowed_methods(req.path);
  // Both branches string_view: a std::string temporary would dangle.
  const std::string_view method =
      req.method == "HEAD" ? std::string_view("GET") : std::string_view(req.method);
  // A transport that refuses a method it has no handler for (PUT, TRACE...)
  // on a path we serve: that is a 405 with Allow, not a malformed request.
  const bool served = std::any_of(std::begin(kRoutes), std::end(kRoutes), [&](const Route& r) {
    return r.method == method && matches(r, req.path);
  });
  if (status == 400 && !method.empty() && !allowed.empty() && !served) {
    auto res = error_response(
        {405, "invalid_request_error", "method_not_allowed",
         "method " + req.method + " is not allowed on " + req.path + "; use " + allowed},
        style_of(req.path));
    res.set_header("Allow", allowed);
    metrics_.count_request(route_label(req.path), res.status);
    return res;
  }
  auto res = error_response(status_error(req, status, options_.max_body_bytes, reason),
                            style_of(req.path));
  metrics_.count_request(route_label(req.path), res.status);
  return res;
}

// Submits the request and waits for it; a client that hangs up meanwhile
// cancels it, so its inputs not yet run cost nothing.
ScheduledResponse Router::run(ServedModel& model, EmbedRequest request, const HttpRequest& req,
                              HttpResponse& res) {
  require_ready();
  const auto deadline = Clock::now() + options_.request_timeout;
  auto ticket = model.scheduler().submit(std::move(request), deadline);
  while (!ticket->ready_within(kClientPoll)) {
    if (Clock::now() >= deadline) break;  // wait() below throws Timeout and cancels
    if (req.client_gone && req.client_gone()) {
      ticket->cancel();
      throw ApiError(499, "invalid_request_error", "client_closed_request",
                     "the client closed the connection before the response was ready");
    }
  }
  auto result = ticket->wait(deadline);
  const auto& usage = result.response.usage;
  auto& metrics = model.metrics();
  metrics.observe_stage(Stage::Tokenize, usage.stages.tokenize_us / 1e6);
  metrics.observe_stage(Stage::Queue, result.queue_us / 1e6);
  metrics.add_served(result.response.embeddings.rows(), usage.prompt_tokens);
  res.stats = {result.response.embeddings.rows(), usage.prompt_tokens, result.queue_us / 1e3};
  return result;
}

ServedModel& Router::default_model() const {
  require_ready();
  return models_.default_model();
}

void Router::attach(EmbeddingProvider& provider) {
  attach(std::vector<ModelAttachment>{ModelAttachment{&provider, {}, {}}});
}

void Router::attach(const std::vector<ModelAttachment>& models) {
  if (models.empty()) throw Error(ErrorCode::ModelError, "no model to serve");
  for (const auto& attachment : models) {
    models_.add(std::make_unique<ServedModel>(attachment, options_.scheduling, log_));
    max_dimension_ = std::max(max_dimension_, attachment.provider->model_info().dimension);
  }
  const auto& first = models_.default_model();
  openapi_json_ = served_openapi(first.info(), first.provider().tokenizer().vocab_size());
  for (const auto& model : models_.all()) {
    const auto probe = model->provider().health_check();
    if (!probe.ok) {
      throw Error(ErrorCode::ModelError,
                  "health probe of model " + model->name() + " failed: " + probe.message);
    }
  }
  ready_.store(true, std::memory_order_release);
}

void Router::drain() { models_.shutdown(); }

bool bearer_matches(std::string_view header, std::string_view key) noexcept {
  constexpr std::string_view kScheme = "bearer";
  const bool scheme_ok =
      header.size() > kScheme.size() && header[kScheme.size()] == ' ' &&
      std::equal(kScheme.begin(), kScheme.end(), header.begin(), [](char want, char got) {
        return want == std::tolower(static_cast<unsigned char>(got));
      });
  std::string_view given = scheme_ok ? header.substr(kScheme.size()) : std::string_view{};
  while (!given.empty() && given.front() == ' ') given.remove_prefix(1);
  // Touch every byte of the key whatever the input, so timing does not tell
  // how much of it matched.
  unsigned diff = given.size() == key.size() ? 0U : 1U;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    diff |=
        static_cast<unsigned>(static_cast<unsigned char>(g) ^ static_cast<unsigned char>(key[i]));
  }
  return scheme_ok && diff == 0;
}

}  // namespace akidb::embed::server
