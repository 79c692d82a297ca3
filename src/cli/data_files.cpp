#include "cli/data_files.hpp"

#include <system_error>

namespace akidb::embed::cli {

namespace {

std::filesystem::path executable_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path{} : exe.parent_path();
}

// True for the binary the build wrote (not an installed copy): only that one
// may fall back to the source tree.
[[maybe_unused]] bool in_build_tree(const std::filesystem::path& exe_dir) {
#if defined(AKIDB_SOURCE_DIR) && defined(AKIDB_BUILD_DIR)
  std::error_code ec;
  return !exe_dir.empty() && std::filesystem::equivalent(exe_dir, AKIDB_BUILD_DIR, ec);
#else
  (void)exe_dir;
  return false;
#endif
}

}  // namespace

std::filesystem::path installed_data_dir() {
  const auto dir = executable_dir();
  return dir.empty() ? dir : dir.parent_path() / "share" / "akidb-embed";
}

std::vector<std::filesystem::path> data_candidates(const std::filesystem::path& installed_relative,
                                                   const std::filesystem::path& source_relative) {
  std::vector<std::filesystem::path> out;
  if (const auto dir = installed_data_dir(); !dir.empty()) out.push_back(dir / installed_relative);
#ifdef AKIDB_SOURCE_DIR
  if (in_build_tree(executable_dir()))
    out.push_back(std::filesystem::path(AKIDB_SOURCE_DIR) / source_relative);
#endif
  (void)source_relative;
  return out;
}

std::optional<std::filesystem::path> find_data(
    const std::vector<std::filesystem::path>& candidates) {
  for (const auto& path : candidates) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) return path;
  }
  return std::nullopt;
}

}  // namespace akidb::embed::cli
