#include "server/request_id.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace akidb::embed::server {
namespace {

constexpr std::size_t kMaxEchoedId = 128;

std::mt19937_64 seeded() {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device(), device(), device()};
  return std::mt19937_64(seed);
}

}  // namespace

RequestIds::RequestIds() : random_(seeded()) {}

bool acceptable_request_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= kMaxEchoedId &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string RequestIds::for_request(std::string_view given) {
  return acceptable_request_id(given) ? std::string(given) : generate();
}

std::string RequestIds::generate() {
  std::array<std::uint64_t, 2> bits{};
  {
    const std::lock_guard lock(mutex_);
    bits = {random_(), random_()};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (std::size_t i = 0; i < id.size(); ++i) {
    const auto word = bits[i / 16];
    id[i] = kHex[(word >> (60 - 4 * (i % 16))) & 0xF];
  }
  return id;
}

}  // namespace akidb::embed::server
