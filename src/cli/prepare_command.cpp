// `akidb-embed prepare --from DIR --out DIR`: a sentence-transformers folder
// into a model directory. The work is Python's (python/akidb_embed/
// prepare_model.py builds the ONNX graph with onnx and numpy); this command
// finds that Python and replaces itself with it, so its output, errors and
// exit status are the preparation's own.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "akidb/embed/error.hpp"
#include "cli/common.hpp"
#include "cli/data_files.hpp"

namespace akidb::embed::cli {
namespace {

struct PrepareOptions {
  std::string from;
  std::string out;
  std::string variants;  // empty: every variant the model's family supports
  std::string python;    // empty: $AKIDB_PYTHON, else the build tree's .venv, else python3
  bool verify = false;
};

// The akidb_embed package folder to put first on PYTHONPATH: an installed
// share/akidb-embed/python, or (binary in its build tree only) the source
// tree's python/. Empty: the interpreter's installed akidb_embed is used.
std::filesystem::path python_package_dir() {
  for (const auto& dir : data_candidates("python", "python")) {
    std::error_code ec;
    if (std::filesystem::exists(dir / "akidb_embed" / "prepare_model.py", ec)) return dir;
  }
  return {};
}

std::string resolve_python(const PrepareOptions& o, const std::filesystem::path& package_dir) {
  if (!o.python.empty()) return o.python;
  // A source checkout keeps its venv beside python/ (scripts/setup.sh).
  if (!package_dir.empty()) {
    const auto venv = package_dir.parent_path() / ".venv" / "bin" / "python";
    std::error_code ec;
    if (std::filesystem::exists(venv, ec)) return venv.string();
  }
  return "python3";
}

[[noreturn]] void run_prepare(const PrepareOptions& o) {
  const auto package_dir = python_package_dir();
  const std::string python = resolve_python(o, package_dir);
  if (!package_dir.empty()) {
    const char* old = std::getenv("PYTHONPATH");
    const std::string path = package_dir.string() + (old && *old ? ":" + std::string(old) : "");
    setenv("PYTHONPATH", path.c_str(), 1);
  }
  std::vector<std::string> args = {python,   "-m",          "akidb_embed.prepare_model",
                                   "--prog", "akidb-embed", "--source",
                                   o.from,   "--out",       o.out};
  if (!o.variants.empty()) args.insert(args.end(), {"--variants", o.variants});
  if (o.verify) args.emplace_back("--verify");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  throw Error(ErrorCode::Unavailable,
              "cannot run the Python interpreter '" + python + "' (" + std::strerror(errno) +
                  "); set --python or $AKIDB_PYTHON to one with akidb_embed installed");
}

}  // namespace

void register_prepare(CLI::App& app) {
  auto options = std::make_shared<PrepareOptions>();
  auto* cmd = app.add_subcommand(
      "prepare",
      "make a model directory from a local sentence-transformers folder (docs/models.md); "
      "exit status 2 when the folder is refused");
  cmd->add_option("--from", options->from, "sentence-transformers model folder")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", options->out, "model directory to write (replaced atomically)")
      ->required();
  cmd->add_option("--variants", options->variants,
                  "comma-separated subset of fp32,opt,int8 (default: all the model's family "
                  "supports)");
  cmd->add_option("--python", options->python,
                  "Python with akidb_embed's preparation dependencies (default: $AKIDB_PYTHON, "
                  "else the source tree's .venv, else python3)")
      ->envname("AKIDB_PYTHON");
  cmd->add_flag("--verify", options->verify,
                "compare with sentence-transformers afterwards (needs torch)");
  cmd->callback([options] { run_prepare(*options); });
}

}  // namespace akidb::embed::cli
