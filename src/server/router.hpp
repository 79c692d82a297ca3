#pragma once
// The API behind any transport: authorization, routing (404/405), the route
// handlers, error bodies, metrics. It sees only HttpRequest/HttpResponse
// (http_message.hpp), so the HTTP library can change without touching it.
//
// Handlers block while their request waits in the Scheduler; a transport
// must call handle() from threads that may block, never from its I/O loop.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "akidb/embed/provider.hpp"
#include "akidb/embed/scheduler.hpp"
#include "server/api_error.hpp"
#include "server/http_message.hpp"
#include "server/metrics.hpp"
#include "server/served_model.hpp"
#include "server/server_log.hpp"
#include "server/server_options.hpp"

namespace akidb::embed::server {

class Router {
 public:
  explicit Router(ServerOptions options, LogFormat log_format = LogFormat::Text);
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Answers one request. Never throws.
  HttpResponse handle(const HttpRequest& req);
  // The answer to a request the transport refused before it could be routed
  // (413 body too large, 400 malformed, 408 too slow, 501, ...); `reason`,
  // if not empty, ends the message. Never throws.
  HttpResponse transport_error(const HttpRequest& req, int status, std::string_view reason = {});
  // A request's headers before its body is read (Expect: 100-continue): the
  // 401 for a missing or wrong API key, else nothing. Cheap; never blocks.
  std::optional<HttpResponse> screen(const HttpRequest& req);

  // Hands over the loaded models (the first is the default) and probes
  // each; every route but /health answers 503 until this returns. Throws
  // the first failed probe's error, Error(ModelError) for two models of one
  // name. Call once.
  void attach(const std::vector<ModelAttachment>& models);
  // One model with the server's scheduling options.
  void attach(EmbeddingProvider& provider);
  // Finishes queued batches and stops the scheduler's workers.
  void drain();

  const ServerOptions& options() const { return options_; }

 private:
  using Handler = HttpResponse (Router::*)(const HttpRequest&);
  struct Route {
    std::string_view method;
    std::string_view path;  // ends with '/' when `prefix`
    Handler handler;
    ErrorStyle style;
    bool prefix = false;  // path + one more segment, e.g. /v1/models/{id}
  };
  static const Route kRoutes[];

  static bool matches(const Route& route, std::string_view path) noexcept;
  static const Route* find_path(std::string_view path) noexcept;
  static std::string_view route_label(std::string_view path);
  static std::string allowed_methods(std::string_view path);
  static ErrorStyle style_of(std::string_view path) noexcept;
  bool authorized(const HttpRequest& req) const;
  void require_ready() const;
  HttpResponse dispatch(const HttpRequest& req);
  HttpResponse error_response(const ApiError& error, ErrorStyle style) const;
  ScheduledResponse run(ServedModel& model, EmbedRequest request, const HttpRequest& req,
                        HttpResponse& res);
  // The default model (TEI's routes); throws 503 until attach() returned.
  ServedModel& default_model() const;

  // OpenAI (routes_openai.cpp).
  HttpResponse embeddings(const HttpRequest& req);
  HttpResponse models(const HttpRequest& req);
  HttpResponse model(const HttpRequest& req);
  // TEI (routes_tei.cpp).
  HttpResponse root(const HttpRequest& req);
  HttpResponse embed(const HttpRequest& req);
  HttpResponse embed_all(const HttpRequest& req);
  HttpResponse similarity(const HttpRequest& req);
  HttpResponse tokenize(const HttpRequest& req);
  HttpResponse decode(const HttpRequest& req);
  // Service (routes_service.cpp).
  HttpResponse health(const HttpRequest& req);
  HttpResponse info_route(const HttpRequest& req);
  HttpResponse metrics_route(const HttpRequest& req);
  // The API's description (routes_openapi.cpp).
  HttpResponse openapi(const HttpRequest& req);
  HttpResponse docs(const HttpRequest& req);
  HttpResponse docs_asset(const HttpRequest& req);
  std::string served_openapi(const ModelInfo& info, std::size_t vocab_size) const;

  ServerOptions options_;
  ServerLog log_;    // the watchdog's lines
  Metrics metrics_;  // the HTTP series; each model has its own
  // Invariant: `models_`, `max_dimension_` and `openapi_json_` are written
  // only by attach(), before it stores `ready_` (release); a handler reads
  // them only after loading `ready_` true (acquire: require_ready(),
  // default_model(), metrics_route()), so it sees them complete and they never
  // change again. drain() reads `models_` without `ready_`: it runs on the
  // thread that called attach() or after the transport stopped calling
  // handle(), never beside attach().
  ServedModels models_;
  std::size_t max_dimension_ = 0;  // the largest served model's
  std::string openapi_json_;       // GET /openapi.json, for the default model
  std::atomic<bool> ready_{false};
};

// Whether an Authorization header is "Bearer <key>": the scheme in any case
// (RFC 9110 §11.1), one or more spaces, then the key compared exactly and in
// time independent of where it differs.
bool bearer_matches(std::string_view header, std::string_view key) noexcept;

}  // namespace akidb::embed::server
