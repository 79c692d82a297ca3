// The API's description: GET /openapi.json and the Swagger UI page GET /docs
// (its script and stylesheet under /docs/, all compiled into the binary).
#include <nlohmann/json.hpp>

#include "akidb/embed/version.hpp"
#include "server/api_error.hpp"
#include "server/embedded_assets.hpp"
#include "server/router.hpp"

namespace akidb::embed::server {
namespace {

// Relative URLs, so the page also works behind a reverse proxy's path prefix.
constexpr std::string_view kDocsPage = R"(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>akidb-embed API</title>
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true});
</script>
</body>
</html>
)";

}  // namespace

// docs/openapi.json with the default model's and flags' values in place of
// the defaults it is written with (all-MiniLM-L6-v2, the default limits).
std::string Router::served_openapi(const ModelInfo& info, std::size_t vocab_size) const {
  using nlohmann::json;
  auto doc = json::parse(openapi_document());
  auto& schemas = doc["components"]["schemas"];
  const auto max_inputs = options_.limits.max_inputs;
  const auto max_chars = options_.limits.max_input_chars;
  doc["info"]["version"] = version_string;
  schemas["TokenId"]["maximum"] = vocab_size - 1;
  schemas["Dimensions"]["maximum"] = info.dimension;
  schemas["Text"]["maxLength"] = max_chars;
  schemas["TokenIds"]["maxItems"] = max_chars;
  schemas["DecodeIds"]["maxItems"] = max_chars;
  schemas["TextList"]["maxItems"] = max_inputs;
  schemas["TokenIdsList"]["maxItems"] = max_inputs;
  schemas["SimilarityInput"]["properties"]["sentences"]["maxItems"] = max_inputs - 1;
  auto& ids = schemas["DecodeRequest"]["properties"]["ids"]["oneOf"];
  ids[0]["maxItems"] = max_chars;
  ids[1]["maxItems"] = max_inputs;
  return doc.dump();
}

HttpResponse Router::openapi(const HttpRequest&) {
  require_ready();
  HttpResponse res;
  res.body = openapi_json_;
  return res;
}

HttpResponse Router::docs(const HttpRequest&) {
  HttpResponse res;
  res.body = kDocsPage;
  res.content_type = "text/html; charset=utf-8";
  return res;
}

HttpResponse Router::docs_asset(const HttpRequest& req) {
  const auto name = std::string_view(req.path).substr(std::string_view("/docs/").size());
  const Asset* asset = find_docs_asset(name);
  if (asset == nullptr) {
    throw ApiError(404, "invalid_request_error", "not_found",
                   "no file /docs/" + std::string(name) +
                       "; the docs page uses swagger-ui-bundle.js, swagger-ui.css and "
                       "favicon-32x32.png");
  }
  HttpResponse res;
  res.body = asset->bytes;
  res.content_type = asset->content_type;
  res.set_header("Cache-Control", "public, max-age=86400");
  return res;
}

}  // namespace akidb::embed::server
