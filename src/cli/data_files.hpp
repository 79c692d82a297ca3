#pragma once
// Data files that ship with akidb-embed (the STS benchmark CSV, the golden
// vectors): found next to the installed binary, never relative to the
// current directory.
#include <filesystem>
#include <optional>
#include <vector>

namespace akidb::embed::cli {

// <prefix>/share/akidb-embed for a binary installed as <prefix>/bin/akidb-embed
// (from /proc/self/exe); empty if the executable's path cannot be read.
std::filesystem::path installed_data_dir();

// The places searched for a data file, in order: the installed data
// directory + `installed_relative`, then, only for the binary in its build
// directory (AKIDB_BUILD_DIR, compile definition), the source tree's copy
// AKIDB_SOURCE_DIR/`source_relative`. An installed copy never looks at the
// source tree.
std::vector<std::filesystem::path> data_candidates(const std::filesystem::path& installed_relative,
                                                   const std::filesystem::path& source_relative);

// The first candidate that exists, if any.
std::optional<std::filesystem::path> find_data(
    const std::vector<std::filesystem::path>& candidates);

}  // namespace akidb::embed::cli
