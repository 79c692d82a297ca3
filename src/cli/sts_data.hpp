#pragma once
// The STS benchmark CSV (sentence1,sentence2,score; RFC 4180 quoting).
#include <filesystem>
#include <string>
#include <vector>

namespace akidb::embed::cli {

struct StsPair {
  std::string first;
  std::string second;
  double score = 0;
};

// Throws InvalidInput naming the file and line for malformed rows.
std::vector<StsPair> load_sts(const std::filesystem::path& csv);

// The distinct sentences of the pairs, in first-seen order.
std::vector<std::string> unique_sentences(const std::vector<StsPair>& pairs);

}  // namespace akidb::embed::cli
