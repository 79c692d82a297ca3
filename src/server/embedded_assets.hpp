#pragma once
// Files compiled into the binary at build time (src/server/embedded_assets.cpp):
// our OpenAPI document (docs/openapi.json) and Swagger UI's assets from the
// npm package swagger-ui-dist that scripts/setup.sh installs. Nothing is
// fetched or read from disk at run time.
#include <string_view>

namespace akidb::embed::server {

struct Asset {
  std::string_view name;  // the file name under /docs/
  std::string_view content_type;
  std::string_view bytes;
};

// docs/openapi.json as built.
std::string_view openapi_document() noexcept;

// A Swagger UI asset by file name (swagger-ui-bundle.js, swagger-ui.css,
// favicon-32x32.png, LICENSE), or null.
const Asset* find_docs_asset(std::string_view name) noexcept;

}  // namespace akidb::embed::server
