#pragma once
// Open-addressing hash map from token text to id, keys stored in one arena.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace akidb::embed {

class VocabMap {
 public:
  static constexpr std::int32_t kMissing = -1;

  VocabMap() = default;
  explicit VocabMap(const std::vector<std::pair<std::string, std::int32_t>>& entries);

  std::int32_t find(std::string_view key) const noexcept;
  std::size_t size() const noexcept { return count_; }
  std::size_t max_key_length() const noexcept { return max_key_length_; }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    std::int32_t id = kMissing;
  };

  static std::uint64_t hash(std::string_view key) noexcept;

  std::string arena_;
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
  std::size_t max_key_length_ = 0;
};

}  // namespace akidb::embed
