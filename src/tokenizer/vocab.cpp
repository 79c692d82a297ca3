#include "tokenizer/vocab.hpp"

#include <cstring>

namespace akidb::embed {

VocabMap::VocabMap(const std::vector<std::pair<std::string, std::int32_t>>& entries) {
  std::size_t capacity = 16;
  while (capacity < entries.size() * 2) capacity *= 2;  // load factor <= 0.5
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (const auto& [key, id] : entries) {
    const std::uint64_t h = hash(key);
    std::size_t i = h & mask_;
    while (slots_[i].id != kMissing) {
      const Slot& s = slots_[i];
      if (s.hash == h && std::string_view(arena_).substr(s.offset, s.length) == key) break;
      i = (i + 1) & mask_;
    }
    Slot& slot = slots_[i];
    if (slot.id == kMissing) {
      slot = Slot{h, static_cast<std::uint32_t>(arena_.size()),
                  static_cast<std::uint32_t>(key.size()), id};
      arena_ += key;
      ++count_;
      if (key.size() > max_key_length_) max_key_length_ = key.size();
    } else {
      slot.id = id;  // last one wins, like a JSON object
    }
  }
}

std::int32_t VocabMap::find(std::string_view key) const noexcept {
  if (slots_.empty()) return kMissing;
  const std::uint64_t h = hash(key);
  for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.id == kMissing) return kMissing;
    if (s.hash == h && s.length == key.size() &&
        std::memcmp(arena_.data() + s.offset, key.data(), key.size()) == 0) {
      return s.id;
    }
  }
}

std::uint64_t VocabMap::hash(std::string_view key) noexcept {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = 0x243F6A8885A308D3ull ^ key.size();
  std::size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    std::uint64_t chunk = 0;
    std::memcpy(&chunk, key.data() + i, 8);
    h = (h ^ chunk) * kMul;
    h ^= h >> 29;
  }
  std::uint64_t tail = 0;
  if (i < key.size()) std::memcpy(&tail, key.data() + i, key.size() - i);
  h = (h ^ tail) * kMul;
  h ^= h >> 32;
  return h * kMul;
}

}  // namespace akidb::embed
