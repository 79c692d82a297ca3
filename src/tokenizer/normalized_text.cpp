#include "tokenizer/normalized_text.hpp"

#include "tokenizer/unicode.hpp"

namespace akidb::embed {
namespace {

std::size_t char_length(unsigned char lead) noexcept {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

void NormalizedText::assign(std::string_view original, std::uint32_t begin, std::uint32_t end) {
  origin_start_ = begin;
  text_.assign(original.substr(begin, end - begin));
  align_.resize(text_.size());
  for (std::size_t i = 0; i < text_.size();) {
    const std::size_t len = char_length(static_cast<unsigned char>(text_[i]));
    const Span span{static_cast<std::uint32_t>(begin + i),
                    static_cast<std::uint32_t>(begin + i + len)};
    for (std::size_t k = 0; k < len; ++k) align_[i + k] = span;
    i += len;
  }
}

// HF transform_range: a replacing character takes the alignment of the original
// character it replaces; an inserted one that of the byte before the read
// position (the segment start when there is none).
void NormalizedText::apply(const std::vector<EditOp>& ops) {
  next_text_.clear();
  next_align_.clear();
  const std::size_t n = text_.size();
  std::size_t idx = 0;  // read position in text_
  const auto skip_chars = [&](std::int32_t count) {
    for (std::int32_t k = 0; k < count && idx < n; ++k) {
      idx += char_length(static_cast<unsigned char>(text_[idx]));
    }
  };
  for (const EditOp& op : ops) {
    if (op.c == EditOp::kSkip) {
      skip_chars(-op.change);
      continue;
    }
    Span span{origin_start_, origin_start_};
    if (op.change > 0) {
      if (idx > 0) span = align_[idx - 1];
    } else {
      if (idx < n) {
        span = align_[idx];
      } else if (n > 0) {
        span = align_[n - 1];
      }
      skip_chars(1 - op.change);
    }
    char buf[4];
    const std::size_t len = unicode::encode(op.c, buf);
    next_text_.append(buf, len);
    next_align_.insert(next_align_.end(), len, span);
  }
  text_.swap(next_text_);
  align_.swap(next_align_);
}

void copy_ops(std::string_view text, std::vector<EditOp>& ops) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    i += unicode::decode(p + i, cp);
    ops.push_back({cp, 0});
  }
}

}  // namespace akidb::embed
