#include "packed_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "akidb/embed/error.hpp"

namespace akidb::embed::native {
namespace {

constexpr char kMagic[8] = {'A', 'K', 'I', 'D', 'B', 'P', 'K', '1'};
constexpr std::size_t kAlign = 64;
constexpr std::size_t kPrefix = 24;  // magic, version, 0, header length

std::size_t aligned(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

void put_u64(std::string& out, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<char>((v >> (8 * i)) & 0xffu);
}

std::uint64_t get_u64(const std::byte* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint64_t>(p[i]);
  return v;
}

// The prefix and JSON header, padded to the first blob's offset.
std::string header_bytes(const CacheIdentity& identity, const std::vector<CacheBlob>& blobs) {
  // Offsets depend on the header's length, which depends on the offsets'
  // digits: grow the data start until the header fits in front of it.
  nlohmann::json j;
  j["identity"] = identity;
  for (std::size_t start = 0;;) {
    nlohmann::json list = nlohmann::json::array();
    std::size_t offset = start;
    for (const auto& b : blobs) {
      list.push_back({{"name", b.name}, {"offset", offset}, {"bytes", b.bytes.size()}});
      offset = aligned(offset + b.bytes.size());
    }
    j["blobs"] = list;
    j["data_start"] = start;
    const std::size_t needed = aligned(kPrefix + j.dump().size());
    if (needed <= start) break;
    start = needed;
  }
  const std::string text = j.dump();
  std::string out(kPrefix, '\0');
  std::memcpy(out.data(), kMagic, 8);
  for (int i = 0; i < 4; ++i)
    out[8 + i] = static_cast<char>((kCacheFormatVersion >> (8 * i)) & 0xffu);
  put_u64(out, 16, text.size());
  out += text;
  out.resize(j.at("data_start").get<std::size_t>(), ' ');
  return out;
}

bool write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string write_packed_cache(const std::filesystem::path& path, const CacheIdentity& identity,
                               const std::vector<CacheBlob>& blobs) {
  const std::string header = header_bytes(identity, blobs);
  std::string tmp_name = path.filename().string();
  tmp_name.insert(0, 1, '.');
  tmp_name.append(".tmp.").append(std::to_string(::getpid()));
  const std::filesystem::path tmp = path.parent_path() / tmp_name;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp.string() + " (" + errno_text() + ")";
  bool ok = write_all(fd, header.data(), header.size());
  std::size_t offset = header.size();
  static constexpr char kZeros[kAlign] = {};
  for (const auto& b : blobs) {
    ok = ok && write_all(fd, b.bytes.data(), b.bytes.size());
    offset += b.bytes.size();
    ok = ok && write_all(fd, kZeros, aligned(offset) - offset);
    offset = aligned(offset);
  }
  ok = ok && ::fsync(fd) == 0;
  const std::string why = ok ? "" : "cannot write " + tmp.string() + " (" + errno_text() + ")";
  ::close(fd);
  std::error_code ec;
  if (ok) std::filesystem::rename(tmp, path, ec);
  if (!ok || ec) {
    std::filesystem::remove(tmp, ec);
    return ok ? "cannot rename to " + path.string() : why;
  }
  return "";
}

PackedCache::PackedCache(const std::filesystem::path& path, const CacheIdentity& expected)
    : file_(path.string()), map_(std::make_shared<const MappedFile>(path)) {
  const auto all = map_->bytes();
  if (all.size() < kPrefix || std::memcmp(all.data(), kMagic, 8) != 0)
    throw model_error(file_, "not a packed-weights cache (bad magic or truncated); delete it");
  std::uint32_t version = 0;
  for (int i = 3; i >= 0; --i)
    version = (version << 8) | std::to_integer<std::uint32_t>(all[8 + i]);
  if (version != kCacheFormatVersion)
    throw model_error(file_, "cache format version " + std::to_string(version) + ", expected " +
                                 std::to_string(kCacheFormatVersion) + "; delete it");
  const std::uint64_t length = get_u64(all.data() + 16);
  if (length > all.size() - kPrefix) throw model_error(file_, "truncated: header; delete it");
  nlohmann::json j;
  try {
    const auto* text = reinterpret_cast<const char*>(all.data() + kPrefix);
    j = nlohmann::json::parse(text, text + length);
    if (j.at("identity").get<CacheIdentity>() != expected) {
      throw model_error(file_,
                        "stale packed-weights cache: it was built from other weights, config or "
                        "layout (sha256 mismatch with model.safetensors / config.json); delete "
                        "it (the next load rebuilds it) or disable the cache");
    }
    for (const auto& b : j.at("blobs")) {
      const auto offset = b.at("offset").get<std::size_t>();
      const auto bytes = b.at("bytes").get<std::size_t>();
      if (offset % kAlign != 0 || offset < kPrefix + length)
        throw model_error(file_, "bad cache header (blob " + b.at("name").get<std::string>() +
                                     " overlaps it); delete it");
      if (offset > all.size() || bytes > all.size() - offset)
        throw model_error(file_, "truncated: blob " + b.at("name").get<std::string>() +
                                     " extends past the end of the file; delete it");
      blobs_.emplace(b.at("name").get<std::string>(), all.subspan(offset, bytes));
    }
  } catch (const nlohmann::json::exception& e) {
    throw model_error(file_, std::string("bad cache header (") + e.what() + "); delete it");
  }
}

std::span<const std::byte> PackedCache::blob(const std::string& name, std::size_t bytes) const {
  const auto it = blobs_.find(name);
  if (it == blobs_.end()) throw model_error(file_, "cache has no blob " + name + "; delete it");
  if (it->second.size() != bytes)
    throw model_error(file_, "cache blob " + name + " has " + std::to_string(it->second.size()) +
                                 " bytes, expected " + std::to_string(bytes) + "; delete it");
  return it->second;
}

}  // namespace akidb::embed::native
