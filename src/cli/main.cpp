// akidb-embed: the command-line front end (embed, info, tokenize, bench, prepare, serve).
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "akidb/embed/error.hpp"
#include "akidb/embed/version.hpp"
#include "cli/common.hpp"

int main(int argc, char** argv) {
  // ONNX Runtime 1.29 otherwise writes a telemetry log in /tmp and a database
  // under ~/.cache from every process. Set before any thread or ORT call; a
  // user who wants telemetry can set the variable to 0.
  setenv("ORT_DISABLE_TELEMETRY", "1", 0);
  CLI::App app{
      "akidb-embed: fast sentence embeddings on a CPU (all-MiniLM-L6-v2 and other BERT models)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(akidb::embed::version_string));
  akidb::embed::cli::register_embed(app);
  akidb::embed::cli::register_info(app);
  akidb::embed::cli::register_tokenize(app);
  akidb::embed::cli::register_bench(app);
  akidb::embed::cli::register_prepare(app);
#ifdef AKIDB_WITH_SERVER
  akidb::embed::cli::register_serve(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const akidb::embed::Error& e) {
    std::fprintf(stderr, "akidb-embed: %s error: %s\n",
                 std::string(akidb::embed::to_string(e.code())).c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "akidb-embed: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
