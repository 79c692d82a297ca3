#pragma once
// A normalized string with, for each of its bytes, the byte span of the
// original text it came from: the model of HF `tokenizers`' NormalizedString
// that the Unigram pipeline edits. Every edit is a list of operations replayed
// with HF's alignment rules (see apply()), so offsets match HF exactly.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace akidb::embed {

struct Span {
  std::uint32_t start = 0;
  std::uint32_t end = 0;
};

// One step of an edit, HF's (char, change) pair: change 0 replaces the next
// original character, change 1 is an inserted character, change -n replaces
// the next character and removes the n after it. kSkip removes -change
// characters and writes nothing (HF's initial_offset).
struct EditOp {
  static constexpr char32_t kSkip = 0xFFFFFFFF;
  char32_t c = 0;
  std::int32_t change = 0;
};

class NormalizedText {
 public:
  // Starts from original bytes [begin, end) of `original` (valid UTF-8).
  void assign(std::string_view original, std::uint32_t begin, std::uint32_t end);

  const std::string& text() const noexcept { return text_; }
  bool empty() const noexcept { return text_.empty(); }
  std::size_t size() const noexcept { return text_.size(); }
  std::uint32_t origin_start() const noexcept { return origin_start_; }
  // Original byte span of normalized bytes [begin, end) (begin < end).
  Span original_span(std::size_t begin, std::size_t end) const noexcept {
    return {align_[begin].start, align_[end - 1].end};
  }

  // Replays `ops` over the whole text (HF NormalizedString::transform).
  void apply(const std::vector<EditOp>& ops);

 private:
  std::string text_;
  std::vector<Span> align_;
  std::uint32_t origin_start_ = 0;
  std::string next_text_;
  std::vector<Span> next_align_;
};

// Appends (c, 0) for every character of `text`.
void copy_ops(std::string_view text, std::vector<EditOp>& ops);

}  // namespace akidb::embed
