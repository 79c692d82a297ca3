#include "server/http_server.hpp"

#include <httplib.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>

#include "akidb/embed/error.hpp"
#include "akidb/embed/version.hpp"
#include "server/api_error.hpp"
#include "server/api_response.hpp"
#include "server/client_watch.hpp"
#include "server/metrics.hpp"

namespace akidb::embed::server {
namespace {

using Clock = std::chrono::steady_clock;
using httplib::Request;
using httplib::Response;
using HandlerResponse = httplib::Server::HandlerResponse;

constexpr const char* kJson = "application/json";
constexpr std::string_view kRoutes[] = {"/v1/embeddings", "/embed", "/tokenize",
                                        "/health",        "/info",  "/metrics"};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string_view route_label(const std::string& path) {
  for (auto route : kRoutes) {
    if (path == route) return route;
  }
  return "other";
}

void send_error(Response& res, const ApiError& error) {
  res.status = error.status();
  if (error.status() == 503) res.set_header("Retry-After", "1");
  if (error.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
  res.set_content(error_body(error), kJson);
}

ApiError unavailable(const std::string& message) {
  return {503, "server_error", "unavailable", message};
}

// Which methods a known path takes (for 405 + Allow).
std::string_view allowed_methods(const std::string& path) {
  const auto route = route_label(path);
  if (route == "other") return {};
  return route == "/health" || route == "/info" || route == "/metrics" ? "GET" : "POST";
}

ApiError status_error(const Request& req, int status, std::size_t max_body) {
  switch (status) {
    case 404:
      return {404, "invalid_request_error", "not_found",
              "no route " + req.method + " " + req.path +
                  "; routes: POST /v1/embeddings, POST /embed, POST /tokenize, GET /health, GET "
                  "/info, GET /metrics"};
    case 405:
      return {405, "invalid_request_error", "method_not_allowed",
              "method " + req.method + " is not allowed on " + req.path + "; use " +
                  std::string(allowed_methods(req.path))};
    case 413:
      if (req.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded")) {
        // cpp-httplib caps form bodies at 8 KiB (curl -d sends this type by default).
        return {413, "invalid_request_error", "payload_too_large",
                "form-urlencoded bodies are limited to 8192 bytes: send the JSON with "
                "'Content-Type: application/json'"};
      }
      return {
          413, "invalid_request_error", "payload_too_large",
          "the request body is larger than the limit of " + std::to_string(max_body) + " bytes"};
    default:
      return {status, status >= 500 ? "server_error" : "invalid_request_error", "http_error",
              "the request could not be processed (HTTP " + std::to_string(status) + ")"};
  }
}

}  // namespace

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

struct HttpServer::Impl {
  ServerOptions options;
  httplib::Server http;
  Metrics metrics;
  // Written once by attach() before `ready` is released; read after acquiring it.
  EmbeddingProvider* provider = nullptr;
  ModelInfo info;
  std::string info_labels;  // for /metrics
  std::unique_ptr<Scheduler> scheduler;
  std::atomic<bool> ready{false};

  explicit Impl(ServerOptions o) : options(std::move(o)) { configure(); }

  void configure();
  void routes();
  bool authorized(const Request& req) const;
  void require_ready() const;
  template <class Fn>
  httplib::Server::Handler wrap(std::string_view route, Fn fn);

  void embeddings(const Request& req, Response& res);
  void embed(const Request& req, Response& res);
  void tokenize(const Request& req, Response& res);
  void health(Response& res);
  void info_route(Response& res);
  void metrics_route(Response& res);
  ScheduledResponse run(EmbedRequest request, const Request& req);
  void reply(Response& res, std::string body, Clock::time_point serialize_start);
};

void HttpServer::Impl::configure() {
  const auto threads = options.http_threads;
  // cpp-httplib takes ownership of the queue it gets from this factory.
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(options.max_body_bytes);
  http.set_read_timeout(options.io_timeout);
  http.set_write_timeout(options.io_timeout);
  http.set_keep_alive_timeout(options.keep_alive_timeout.count());
  http.set_keep_alive_max_count(100000);
  http.set_tcp_nodelay(true);
  http.set_pre_routing_handler([this](const Request& req, Response& res) {
    if (authorized(req)) return HandlerResponse::Unhandled;
    send_error(res, {401, "invalid_request_error", "invalid_api_key",
                     "missing or wrong API key: send 'Authorization: Bearer <key>'"});
    return HandlerResponse::Handled;
  });
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([this](const Request& req, Response& res) {
        if (!res.body.empty()) return HandlerResponse::Unhandled;
        if (res.status == 404 && !allowed_methods(req.path).empty()) {
          res.status = 405;
          res.set_header("Allow", std::string(allowed_methods(req.path)));
        }
        send_error(res, status_error(req, res.status, options.max_body_bytes));
        return HandlerResponse::Handled;
      }));
  http.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
    send_error(res, {500, "server_error", "internal_error", "internal error"});
  });
  http.set_logger([this](const Request& req, const Response& res) {
    metrics.count_request(route_label(req.path), res.status);
  });
  routes();
}

bool HttpServer::Impl::authorized(const Request& req) const {
  if (options.api_key.empty() || req.path == "/health") return true;
  return bearer_matches(req.get_header_value("Authorization"), options.api_key);
}

void HttpServer::Impl::require_ready() const {
  if (!ready.load(std::memory_order_acquire)) throw unavailable("the model is still loading");
}

// Runs a route; maps every error to an OpenAI-style body; records latency.
template <class Fn>
httplib::Server::Handler HttpServer::Impl::wrap(std::string_view route, Fn fn) {
  return [this, route, fn](const Request& req, Response& res) {
    const auto start = Clock::now();
    try {
      fn(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, to_api_error(e));
    } catch (const std::bad_alloc&) {
      send_error(res, unavailable("out of memory"));
    } catch (const std::exception& e) {
      send_error(res, {500, "server_error", "internal_error", e.what()});
    }
    metrics.observe_latency(route, seconds_since(start));
  };
}

void HttpServer::Impl::routes() {
  http.Post("/v1/embeddings",
            wrap("/v1/embeddings", [this](const Request& q, Response& r) { embeddings(q, r); }));
  http.Post("/embed", wrap("/embed", [this](const Request& q, Response& r) { embed(q, r); }));
  http.Post("/tokenize",
            wrap("/tokenize", [this](const Request& q, Response& r) { tokenize(q, r); }));
  http.Get("/health", wrap("/health", [this](const Request&, Response& r) { health(r); }));
  http.Get("/info", wrap("/info", [this](const Request&, Response& r) { info_route(r); }));
  http.Get("/metrics", wrap("/metrics", [this](const Request&, Response& r) { metrics_route(r); }));
}

// How often a waiting handler checks whether its client is still there.
constexpr std::chrono::milliseconds kClientPoll{20};

// Submits the request and waits for it; a client that hangs up meanwhile
// cancels it, so its inputs not yet run cost nothing.
ScheduledResponse HttpServer::Impl::run(EmbedRequest request, const Request& req) {
  require_ready();
  const auto deadline = Clock::now() + options.request_timeout;
  auto ticket = scheduler->submit(std::move(request), deadline);
  int fd = -2;  // not looked up yet
  while (!ticket->ready_within(kClientPoll)) {
    if (Clock::now() >= deadline) break;  // wait() below throws Timeout and cancels
    if (fd == -2)
      fd = find_connection_socket(
          {req.local_addr, req.local_port, req.remote_addr, req.remote_port});
    if (fd >= 0 && peer_closed(fd)) {
      ticket->cancel();
      throw ApiError(499, "invalid_request_error", "client_closed_request",
                     "the client closed the connection before the response was ready");
    }
  }
  auto result = ticket->wait(deadline);
  const auto& stages = result.response.usage.stages;
  metrics.observe_stage(Stage::Tokenize, stages.tokenize_us / 1e6);
  metrics.observe_stage(Stage::Queue, result.queue_us / 1e6);
  metrics.add_served(result.response.embeddings.rows(), result.response.usage.prompt_tokens);
  return result;
}

void HttpServer::Impl::reply(Response& res, std::string body, Clock::time_point serialize_start) {
  res.set_content(std::move(body), kJson);
  metrics.observe_stage(Stage::Serialize, seconds_since(serialize_start));
}

void HttpServer::Impl::embeddings(const Request& req, Response& res) {
  require_ready();
  auto parsed = parse_openai_request(req.body, options.limits, info.dimension);
  if (parsed.dimensions) parsed.request.dimensions = *parsed.dimensions;
  auto result = run(std::move(parsed.request), req);
  const auto start = Clock::now();
  reply(res,
        openai_response(result.response.embeddings, info.model, parsed.base64,
                        result.response.usage.prompt_tokens),
        start);
}

void HttpServer::Impl::embed(const Request& req, Response& res) {
  require_ready();
  auto parsed = parse_tei_request(req.body, options.limits);
  auto result = run(std::move(parsed.request), req);
  const auto start = Clock::now();
  reply(res, tei_response(result.response.embeddings), start);
}

void HttpServer::Impl::tokenize(const Request& req, Response& res) {
  require_ready();
  const Tokenizer* tokenizer = &provider->tokenizer();
  const auto parsed = parse_tokenize_request(req.body, options.limits);
  const EncodeOptions encode{info.max_tokens, parsed.truncate, parsed.return_tokens};
  auto out = nlohmann::json::array();
  Encoding enc;
  for (std::size_t i = 0; i < parsed.inputs.size(); ++i) {
    tokenizer->encode(parsed.inputs[i], enc, encode);
    std::size_t begin = 0, end = enc.ids.size();
    if (!parsed.add_special_tokens && end >= 2) ++begin, --end;  // drop [CLS] and [SEP]
    nlohmann::json item;
    item["ids"] = std::vector<std::int32_t>(enc.ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                            enc.ids.begin() + static_cast<std::ptrdiff_t>(end));
    item["truncated"] = enc.tokens_before_truncation > enc.ids.size();
    if (parsed.return_tokens) {
      auto tokens = nlohmann::json::array(), offsets = nlohmann::json::array();
      for (std::size_t k = begin; k < end; ++k) {
        tokens.push_back(std::string(tokenizer->id_to_token(enc.ids[k])));
        if (k < enc.offsets.size())
          offsets.push_back({enc.offsets[k].first, enc.offsets[k].second});
      }
      item["tokens"] = std::move(tokens);
      item["offsets"] = std::move(offsets);
    }
    out.push_back(std::move(item));
  }
  res.set_content(out.dump(), kJson);
}

void HttpServer::Impl::health(Response& res) {
  if (!ready.load(std::memory_order_acquire)) {
    send_error(res, unavailable("the model is still loading"));
    return;
  }
  res.set_content(R"({"status":"ok"})", kJson);
}

void HttpServer::Impl::info_route(Response& res) {
  require_ready();
  const auto& b = scheduler->options();
  nlohmann::json j = {
      {"model_id", info.model},
      {"dimension", info.dimension},
      {"max_input_length", info.max_tokens},
      {"backend", info.backend},
      {"engine", info.backend},
      {"device", info.device},
      {"execution_provider", info.execution_provider},
      {"variant", info.variant},
      {"version", version_string},
      {"scheduling",
       {{"max_batch_tokens", b.max_batch_tokens},
        {"max_batch_sequences", b.max_batch_sequences},
        {"express_max_tokens", b.express_max_tokens},
        {"max_queue", b.max_queue},
        {"workers", b.workers}}},
      {"limits",
       {{"max_inputs", options.limits.max_inputs},
        {"max_input_chars", options.limits.max_input_chars},
        {"max_body_bytes", options.max_body_bytes},
        {"request_timeout_ms", options.request_timeout.count()}}},
  };
  res.set_content(j.dump(), kJson);
}

void HttpServer::Impl::metrics_route(Response& res) {
  Metrics::QueueState queue;
  if (ready.load(std::memory_order_acquire)) {
    queue = {scheduler->queued_requests(), scheduler->queued_sequences(), scheduler->counters()};
  }
  res.set_content(metrics.render(queue, info_labels), "text/plain; version=0.0.4; charset=utf-8");
}

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpServer::~HttpServer() {
  stop();
  drain();
}

int HttpServer::bind() {
  const auto& o = impl_->options;
  const int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host)
                               : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port < 0) {
    throw Error(ErrorCode::Unavailable,
                "cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use?)");
  }
  return port;
}

void HttpServer::listen() { impl_->http.listen_after_bind(); }

bool HttpServer::running() const { return impl_->http.is_running(); }

void HttpServer::attach(EmbeddingProvider& provider) {
  auto& s = *impl_;
  s.provider = &provider;
  s.info = provider.model_info();
  s.info_labels = "model=\"" + s.info.model + "\",engine=\"" + s.info.backend + "\",device=\"" +
                  s.info.device + "\",execution_provider=\"" + s.info.execution_provider +
                  "\",variant=\"" + s.info.variant + "\"";
  s.scheduler = std::make_unique<Scheduler>(
      provider, s.options.scheduling,
      [&s](const BatchStats& stats) { s.metrics.observe_batch(stats); });
  const auto probe = provider.health_check();
  if (!probe.ok) throw Error(ErrorCode::ModelError, "health probe failed: " + probe.message);
  s.ready.store(true, std::memory_order_release);
}

void HttpServer::stop() { impl_->http.stop(); }

void HttpServer::drain() {
  if (impl_->scheduler) impl_->scheduler->shutdown();
}

}  // namespace akidb::embed::server
