// OpenAI's routes: POST /v1/embeddings, GET /v1/models, GET /v1/models/{id}.
#include <chrono>
#include <nlohmann/json.hpp>

#include "server/api_error.hpp"
#include "server/api_request.hpp"
#include "server/api_response.hpp"
#include "server/router.hpp"

namespace akidb::embed::server {
namespace {

using Clock = std::chrono::steady_clock;

nlohmann::json model_object(const std::string& id, std::int64_t created) {
  return {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "akidb-embed"}};
}

}  // namespace

HttpResponse Router::embeddings(const HttpRequest& req) {
  require_ready();
  auto parsed = parse_openai_request(req.body, options_.limits, info_.dimension);
  if (parsed.dimensions) parsed.request.dimensions = *parsed.dimensions;
  HttpResponse res;
  auto result = run(std::move(parsed.request), req, res);
  const auto start = Clock::now();
  res.body = openai_response(result.response.embeddings, info_.model, parsed.base64,
                             result.response.usage.prompt_tokens);
  metrics_.observe_stage(Stage::Serialize,
                         std::chrono::duration<double>(Clock::now() - start).count());
  return res;
}

HttpResponse Router::models(const HttpRequest&) {
  require_ready();
  const nlohmann::json list = {
      {"object", "list"}, {"data", nlohmann::json::array({model_object(info_.model, created_)})}};
  HttpResponse res;
  res.body = list.dump();
  return res;
}

HttpResponse Router::model(const HttpRequest& req) {
  require_ready();
  const std::string id = req.path.substr(std::string_view("/v1/models/").size());
  if (id != info_.model) {
    throw ApiError(404, "invalid_request_error", "model_not_found",
                   "the model '" + id + "' is not served here; served models: " + info_.model);
  }
  HttpResponse res;
  res.body = model_object(info_.model, created_).dump();
  return res;
}

}  // namespace akidb::embed::server
