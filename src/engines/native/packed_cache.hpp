#pragma once
// The packed-weights cache file: a list of named, 64-byte aligned blobs
// (any packed format: fp32 panels, bf16 pairs, int8 ...) that a later load
// maps and points its weights at, with no copy.
//
// Layout (little-endian):
//   0   8 bytes  magic "AKIDBPK1"
//   8   u32      format version (kCacheFormatVersion)
//   12  u32      0
//   16  u64      length L of the JSON header
//   24  L bytes  JSON: {"identity": {...}, "blobs": [{"name", "offset", "bytes"}, ...]}
//   then the blobs, each at a 64-byte aligned file offset.
// The identity (variant, layout, the source files' sha256 and sizes) must
// equal the expected one, or the file is rejected (Error(ModelError) naming
// it). Written to a temporary file in the same directory, then renamed.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mapped_file.hpp"

namespace akidb::embed::native {

inline constexpr std::uint32_t kCacheFormatVersion = 1;

// What the cache was built from and for; all fields must match on load.
using CacheIdentity = std::map<std::string, std::string>;

struct CacheBlob {
  std::string name;
  std::span<const std::byte> bytes;
};

// Writes `path` atomically (temporary file + rename). Returns an empty
// string on success, else why it could not (the directory is read-only, the
// disk is full, ...): the caller logs it and carries on without a cache.
std::string write_packed_cache(const std::filesystem::path& path, const CacheIdentity& identity,
                               const std::vector<CacheBlob>& blobs);

class PackedCache {
 public:
  // Maps and validates `path`: magic, version, JSON header, identity, every
  // blob inside the file. Throws Error(ModelError) naming the file.
  PackedCache(const std::filesystem::path& path, const CacheIdentity& expected);

  // The blob `name`, which must be exactly `bytes` long (else ModelError
  // naming the file and the blob). Valid while mapping() lives.
  std::span<const std::byte> blob(const std::string& name, std::size_t bytes) const;
  const std::shared_ptr<const MappedFile>& mapping() const noexcept { return map_; }

 private:
  std::string file_;
  std::shared_ptr<const MappedFile> map_;
  std::map<std::string, std::span<const std::byte>> blobs_;
};

}  // namespace akidb::embed::native
