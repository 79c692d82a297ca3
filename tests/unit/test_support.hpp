#pragma once
// Shared helpers for the unit tests: where the model and test data live.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "akidb/embed/error.hpp"

namespace akidb::embed::test {

// An environment override, else a path under the source tree.
inline std::filesystem::path env_path(const char* name, const char* relative) {
  const char* value = std::getenv(name);
  return value ? std::filesystem::path(value) : std::filesystem::path(AKIDB_SOURCE_DIR) / relative;
}

inline std::filesystem::path model_dir() {
  return env_path("AKIDB_MODEL_DIR", "models/all-MiniLM-L6-v2");
}
inline std::filesystem::path test_data() { return env_path("AKIDB_TEST_DATA", "tests/data"); }

// A fresh temporary directory, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("akidb-test-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Cosine similarity, in double precision.
inline double cosine(std::span<const float> a, std::span<const float> b) {
  double dot = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    dot += double(a[i]) * b[i];
    na += double(a[i]) * a[i];
    nb += double(b[i]) * b[i];
  }
  return dot / std::sqrt(na * nb);
}

// The texts of the golden corpus (tests/data/golden/texts.jsonl), in order.
inline std::vector<std::string> golden_texts() {
  std::vector<std::string> texts;
  std::ifstream in(test_data() / "golden" / "texts.jsonl");
  for (std::string line; std::getline(in, line);)
    texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
  return texts;
}

// Runs fn and checks that it throws akidb::embed::Error with this code and a
// message containing `needle`.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

}  // namespace akidb::embed::test
