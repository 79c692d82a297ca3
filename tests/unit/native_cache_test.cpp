// The native engine's packed-weights cache (docs/native-engine.md): written
// once, then mapped with bit-identical vectors; a truncated, corrupt or stale
// cache is a ModelError naming the file; an unwritable directory still loads.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "akidb/embed/error.hpp"
#include "akidb/embed/native_engine.hpp"
#include "native_test_support.hpp"
#include "test_support.hpp"

namespace akidb::embed {
namespace {

using namespace native_test;
using test::expect_error;

constexpr const char* kFp32Cache = "native-fp32-p32v1.packed";

// A model directory of links to the real weights, with a copy of akidb.json
// (the sha256 the cache is checked against).
class NativeCache : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto src = native_model_dir();
    if (!std::filesystem::exists(src / "model.safetensors") ||
        !std::filesystem::exists(src / "akidb.json") ||
        !test::read_json(src / "akidb.json").at("files").contains("model.safetensors"))
      GTEST_SKIP() << src << " has no model.safetensors with its sha256 in akidb.json";
    for (const char* f : {"model.safetensors", "config.json"})
      std::filesystem::create_symlink(std::filesystem::absolute(src / f), dir_.path() / f);
    std::filesystem::copy_file(src / "akidb.json", dir_.path() / "akidb.json");
    for (std::size_t i = 0; i < 9; ++i) batch_.add(golden().encodings[i]);
  }
  NativeEngineOptions opts(const std::string& cache, const std::string& variant = "fp32") const {
    NativeEngineOptions o;
    o.model_dir = dir_.path();
    o.threads = 2;
    o.cache = cache;
    o.variant = variant;
    return o;
  }
  std::filesystem::path cache_file() const { return dir_.path() / kFp32Cache; }
  void write_cache() {
    NativeEngine e(opts("on"));
    ASSERT_EQ(e.cache_state(), "written");
  }
  test::TempDir dir_;
  Packed batch_;
};

TEST_F(NativeCache, WrittenOnceThenMappedGivesBitIdenticalVectors) {
  for (const std::string variant : {"fp32", "bf16", "int8"}) {
    NativeEngine plain(opts("off", variant));
    EXPECT_EQ(plain.cache_state(), "off");
    const auto want = run(plain, batch_);
    NativeEngine first(opts("on", variant));
    EXPECT_EQ(first.cache_state(), "written");
    EXPECT_TRUE(std::filesystem::exists(dir_.path() / ("native-" + variant + "-p32v1.packed")));
    EXPECT_EQ(run(first, batch_), want) << variant;
    NativeEngine second(opts("on", variant));
    EXPECT_EQ(second.cache_state(), "mapped");
    EXPECT_EQ(run(second, batch_), want) << variant;
  }
  // No temporary file is left behind.
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir_.path())) ++files;
  EXPECT_EQ(files, 6u);  // 2 links, akidb.json, 3 caches
}

TEST_F(NativeCache, TruncatedCacheIsAModelErrorNamingTheFile) {
  write_cache();
  const auto size = std::filesystem::file_size(cache_file());
  std::filesystem::resize_file(cache_file(), size / 2);
  expect_error([&] { NativeEngine e(opts("on")); }, ErrorCode::ModelError,
               cache_file().string() + ": truncated: blob ");
  std::filesystem::resize_file(cache_file(), 10);
  expect_error([&] { NativeEngine e(opts("on")); }, ErrorCode::ModelError,
               cache_file().string() + ": not a packed-weights cache (bad magic or truncated)");
}

TEST_F(NativeCache, HashMismatchIsAModelErrorNamingTheFile) {
  write_cache();
  auto manifest = test::read_json(dir_.path() / "akidb.json");
  manifest["files"]["model.safetensors"]["sha256"] = std::string(64, '0');
  test::write_file(dir_.path() / "akidb.json", manifest.dump());
  expect_error([&] { NativeEngine e(opts("on")); }, ErrorCode::ModelError,
               cache_file().string() + ": stale packed-weights cache");
  // Deleting it, as the message says, rebuilds it.
  std::filesystem::remove(cache_file());
  NativeEngine e(opts("on"));
  EXPECT_EQ(e.cache_state(), "written");
}

TEST_F(NativeCache, UnwritableDirectoryStillLoads) {
  NativeEngine plain(opts("off"));
  const auto want = run(plain, batch_);
  if (::geteuid() != 0) {
    ::chmod(dir_.path().c_str(), 0555);
  } else {  // root writes anywhere: block the temporary file's name instead
    std::string name = kFp32Cache;
    name.insert(0, 1, '.');
    name.append(".tmp.").append(std::to_string(::getpid()));
    std::filesystem::create_directory(dir_.path() / name);
  }
  NativeEngine e(opts("on"));
  ::chmod(dir_.path().c_str(), 0755);
  EXPECT_EQ(e.cache_state().rfind("skipped: cannot create ", 0), 0u) << e.cache_state();
  EXPECT_FALSE(std::filesystem::exists(cache_file()));
  EXPECT_EQ(run(e, batch_), want);
}

TEST_F(NativeCache, OffByOptionOrEnvironment) {
  ::setenv("AKIDB_NATIVE_CACHE", "off", 1);
  NativeEngine by_env(opts(""));
  ::unsetenv("AKIDB_NATIVE_CACHE");
  EXPECT_EQ(by_env.cache_state(), "off");
  EXPECT_FALSE(std::filesystem::exists(cache_file()));
  expect_error([&] { NativeEngine e(opts("maybe")); }, ErrorCode::InvalidInput,
               "cache must be on or off, not 'maybe'");
}

TEST_F(NativeCache, WithoutARecordedHashTheCacheIsSkipped) {
  std::filesystem::remove(dir_.path() / "akidb.json");
  NativeEngine e(opts("on"));
  EXPECT_EQ(e.cache_state(),
            "skipped: akidb.json records no sha256 matching model.safetensors's size");
  EXPECT_FALSE(std::filesystem::exists(cache_file()));
}

}  // namespace
}  // namespace akidb::embed
