// OpenAI's routes: POST /v1/embeddings, GET /v1/models, GET /v1/models/{id}.
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/printable.hpp"
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
  auto parsed = parse_openai_request(req.body, options_.limits, max_dimension_);
  auto& model = models_.route(parsed.model);
  if (parsed.dimensions) {
    check_dimensions(*parsed.dimensions, model.info().dimension);
    parsed.request.dimensions = *parsed.dimensions;
  }
  HttpResponse res;
  auto result = run(model, std::move(parsed.request), req, res);
  const auto start = Clock::now();
  res.body = openai_response(result.response.embeddings, model.name(), parsed.base64,
                             result.response.usage.prompt_tokens);
  model.metrics().observe_stage(Stage::Serialize,
                                std::chrono::duration<double>(Clock::now() - start).count());
  return res;
}

HttpResponse Router::models(const HttpRequest&) {
  require_ready();
  auto data = nlohmann::json::array();
  for (const auto& m : models_.all()) data.push_back(model_object(m->name(), m->created()));
  const nlohmann::json list = {{"object", "list"}, {"data", std::move(data)}};
  HttpResponse res;
  res.body = list.dump();
  return res;
}

HttpResponse Router::model(const HttpRequest& req) {
  require_ready();
  const std::string id = req.path.substr(std::string_view("/v1/models/").size());
  const ServedModel* found = models_.find(id);
  if (found == nullptr) {
    throw ApiError(404, "invalid_request_error", "model_not_found",
                   "The model '" + printable(id) +
                       "' does not exist or is not served here; served models: " + models_.names());
  }
  HttpResponse res;
  res.body = model_object(found->name(), found->created()).dump();
  return res;
}

}  // namespace akidb::embed::server
