#pragma once
// The normalized characters of the word being built, with the byte span in the
// original text that each normalized byte came from. Lives on the stack of one
// encode() call; spills to the heap only for very large max_input_chars_per_word.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tokenizer/unicode.hpp"

namespace akidb::embed {

class WordBuffer {
 public:
  explicit WordBuffer(std::size_t max_chars) : max_chars_(max_chars) {
    const std::size_t need = 4 * 3 * (max_chars + 1);  // 4 bytes per char, lowercase can triple
    if (need <= kInline) {
      bytes_ = inline_bytes_;
      starts_ = inline_starts_;
      ends_ = inline_ends_;
    } else {
      heap_bytes_.resize(need);
      heap_starts_.resize(need);
      heap_ends_.resize(need);
      bytes_ = heap_bytes_;
      starts_ = heap_starts_;
      ends_ = heap_ends_;
    }
  }
  WordBuffer(const WordBuffer&) = delete;
  WordBuffer& operator=(const WordBuffer&) = delete;

  bool empty() const noexcept { return chars_ == 0; }
  std::size_t size() const noexcept { return size_; }
  std::size_t chars() const noexcept { return chars_; }
  bool too_long() const noexcept { return chars_ > max_chars_; }
  const char* data() const noexcept { return bytes_.data(); }
  std::uint32_t start_at(std::size_t byte) const noexcept { return starts_[byte]; }
  std::uint32_t end_at(std::size_t byte) const noexcept { return ends_[byte]; }
  std::uint32_t first_start() const noexcept { return first_start_; }
  std::uint32_t last_end() const noexcept { return last_end_; }

  void clear() noexcept { size_ = chars_ = 0; }

  void push_ascii(char c, std::uint32_t start, std::uint32_t end) noexcept {
    note(start, end);
    if (too_long()) return;
    bytes_[size_] = c;
    starts_[size_] = start;
    ends_[size_] = end;
    ++size_;
  }

  void push(char32_t cp, std::uint32_t start, std::uint32_t end) noexcept {
    note(start, end);
    if (too_long()) return;
    const std::size_t len = unicode::encode(cp, bytes_.data() + size_);
    std::fill_n(starts_.begin() + size_, len, start);
    std::fill_n(ends_.begin() + size_, len, end);
    size_ += len;
  }

 private:
  static constexpr std::size_t kInline = 2048;

  void note(std::uint32_t start, std::uint32_t end) noexcept {
    if (chars_ == 0) first_start_ = start;
    last_end_ = end;
    ++chars_;
  }

  std::size_t max_chars_;
  std::size_t size_ = 0;
  std::size_t chars_ = 0;
  std::uint32_t first_start_ = 0;
  std::uint32_t last_end_ = 0;
  std::span<char> bytes_;
  std::span<std::uint32_t> starts_;
  std::span<std::uint32_t> ends_;
  std::array<char, kInline> inline_bytes_;
  std::array<std::uint32_t, kInline> inline_starts_;
  std::array<std::uint32_t, kInline> inline_ends_;
  std::vector<char> heap_bytes_;
  std::vector<std::uint32_t> heap_starts_;
  std::vector<std::uint32_t> heap_ends_;
};

}  // namespace akidb::embed
