#include "server/embedded_assets.hpp"

#include <array>

// Each file is placed in .rodata by the assembler's .incbin (GNU as, ELF);
// the paths come from CMakeLists.txt, which also makes this object depend on
// the files, so editing docs/openapi.json rebuilds it.
#define AKIDB_EMBED_FILE(sym, path)                                             \
  __asm__(".section .rodata.akidb_" #sym                                        \
          ",\"a\",@progbits\n"                                                  \
          ".balign 16\n"                                                        \
          ".global akidb_" #sym                                                 \
          "_begin\n"                                                            \
          "akidb_" #sym                                                         \
          "_begin:\n"                                                           \
          ".incbin \"" path                                                     \
          "\"\n"                                                                \
          ".global akidb_" #sym                                                 \
          "_end\n"                                                              \
          "akidb_" #sym                                                         \
          "_end:\n"                                                             \
          ".byte 0\n"                                                           \
          ".previous\n");                                                       \
  extern "C" const char akidb_##sym##_begin[];                                  \
  extern "C" const char akidb_##sym##_end[];                                    \
  namespace {                                                                   \
  std::string_view sym##_bytes() noexcept {                                     \
    return {akidb_##sym##_begin,                                                \
            static_cast<std::size_t>(akidb_##sym##_end - akidb_##sym##_begin)}; \
  }                                                                             \
  }

AKIDB_EMBED_FILE(openapi_json, AKIDB_OPENAPI_JSON)
AKIDB_EMBED_FILE(swagger_js, AKIDB_SWAGGER_UI_DIR "/swagger-ui-bundle.js")
AKIDB_EMBED_FILE(swagger_css, AKIDB_SWAGGER_UI_DIR "/swagger-ui.css")
AKIDB_EMBED_FILE(swagger_favicon, AKIDB_SWAGGER_UI_DIR "/favicon-32x32.png")
AKIDB_EMBED_FILE(swagger_license, AKIDB_SWAGGER_UI_DIR "/LICENSE")

namespace akidb::embed::server {

std::string_view openapi_document() noexcept { return openapi_json_bytes(); }

const Asset* find_docs_asset(std::string_view name) noexcept {
  static const std::array<Asset, 4> kAssets = {{
      {"swagger-ui-bundle.js", "text/javascript; charset=utf-8", swagger_js_bytes()},
      {"swagger-ui.css", "text/css; charset=utf-8", swagger_css_bytes()},
      {"favicon-32x32.png", "image/png", swagger_favicon_bytes()},
      {"LICENSE", "text/plain; charset=utf-8", swagger_license_bytes()},
  }};
  for (const auto& asset : kAssets) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

}  // namespace akidb::embed::server
