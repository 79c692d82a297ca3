#include "akidb/embed/tokenizer.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "akidb/embed/error.hpp"
#include "tokenizer/decoder.hpp"
#include "tokenizer/tokenizer_impl.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/unigram_encoder.hpp"
#include "tokenizer/word_buffer.hpp"

namespace akidb::embed {
namespace {

constexpr char32_t kFirstCombining = 0x300;  // no code point below has a combining class

constexpr std::size_t kMaxMarks = 64;  // longer runs of marks are ordered in chunks

struct Mark {
  char32_t cp;
  std::uint8_t flags;
  int ccc;
  bool inserted;  // not the first part of its original character's decomposition
  std::uint32_t start;
  std::uint32_t end;
};

bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// The state of one encode() call: normalization, pre-tokenization and WordPiece
// in a single pass over the input, writing into the caller's Encoding.
class Encoder {
 public:
  Encoder(const TokenizerData& t, std::string_view text, Encoding& out, std::size_t limit,
          bool with_offsets)
      : t_(t),
        text_(text),
        out_(out),
        limit_(limit),
        offsets_(with_offsets),
        word_(t.max_word_chars) {}

  void run() {
    for (const auto& s : t_.before) push_special(s);
    split_added_tokens();
    for (const auto& s : t_.after) push_special(s);
    out_.tokens_before_truncation = count_ + t_.before.size() + t_.after.size();
  }

 private:
  void push_special(const SpecialPiece& s) {
    out_.ids.push_back(s.id);
    out_.type_ids.push_back(s.type_id);
    if (offsets_) out_.offsets.emplace_back(0, 0);
  }

  void emit(std::int32_t id, std::uint32_t start, std::uint32_t end) {
    if (++count_ > limit_) return;
    out_.ids.push_back(id);
    out_.type_ids.push_back(t_.sequence_type_id);
    if (offsets_) out_.offsets.emplace_back(start, end);
  }

  // Added tokens ([CLS], [MASK], ...) found in the raw text are tokens of their own.
  void split_added_tokens() {
    std::size_t segment_start = 0;
    const std::size_t n = text_.size();
    for (std::size_t i = 0; i < n && !t_.added.empty();) {
      const AddedToken* added = match_added_token(t_, text_, i);
      if (added == nullptr) {
        ++i;
        continue;
      }
      const auto [start, end] = added_match_range(*added, text_, i, segment_start);
      segment(segment_start, start);
      emit(added->id, static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end));
      i = end;
      segment_start = i;
    }
    segment(segment_start, n);
  }

  void segment(std::size_t begin, std::size_t end) {
    const auto* p = reinterpret_cast<const unsigned char*>(text_.data());
    for (std::size_t i = begin; i < end;) {
      const auto s = static_cast<std::uint32_t>(i);
      if (p[i] < 0x80) {
        ascii_char(static_cast<char>(p[i]), s);
        ++i;
        continue;
      }
      char32_t cp = 0;
      i += unicode::decode(p + i, cp);
      original_char(cp, s, static_cast<std::uint32_t>(i));
    }
    flush_marks();
    flush_word();
  }

  void ascii_char(char c, std::uint32_t s) {
    const std::uint8_t f = t_.ascii_flags[static_cast<unsigned char>(c)];
    if (t_.clean_text && (f & unicode::kDrop)) return;
    flush_marks();
    if (f & (unicode::kWhitespace | unicode::kCleanSpace)) {
      flush_word();
    } else if (f & unicode::kPunct) {
      flush_word();
      word_.push_ascii(c, s, s + 1);
      flush_word();
    } else {
      if (t_.lowercase && c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
      word_.push_ascii(c, s, s + 1);
    }
  }

  void original_char(char32_t cp, std::uint32_t s, std::uint32_t e) {
    const std::uint8_t f = unicode::flags(cp);
    if (t_.clean_text) {
      if (f & unicode::kDrop) return;
      if (f & (unicode::kCleanSpace | unicode::kWhitespace)) {
        flush_marks();
        flush_word();
        return;
      }
    }
    if (t_.handle_chinese_chars && (f & unicode::kChinese)) {
      flush_marks();
      flush_word();
      strip_char(cp, f, s, e);
      flush_marks();
      flush_word();
      return;
    }
    strip_char(cp, f, s, e);
  }

  // strip_accents: NFD, then drop nonspacing marks. Marks (ccc > 0) wait in a run
  // until the next starter so that they can be put in canonical order. Alignments
  // follow HF: after reordering, the n-th mark that began an original character
  // takes the n-th such alignment; the other parts share the last one taken.
  void strip_char(char32_t cp, std::uint8_t f, std::uint32_t s, std::uint32_t e) {
    if (!t_.strip_accents) {
      lower_char(cp, f, s, e);
      return;
    }
    if (!(f & (unicode::kStripMap | unicode::kStripDrop))) {
      nfd_part(cp, f, false, s, e);
      return;
    }
    unicode::Chars parts{};
    const std::size_t n = unicode::decompose(cp, parts);
    for (std::size_t k = 0; k < n; ++k) {
      nfd_part(parts[k], unicode::flags(parts[k]), k > 0, s, e);
    }
  }

  void nfd_part(char32_t cp, std::uint8_t f, bool inserted, std::uint32_t s, std::uint32_t e) {
    const int ccc = cp >= kFirstCombining ? unicode::combining_class(cp) : 0;
    if (ccc == 0) {
      flush_marks();
      if (!inserted) prev_slot_ = {s, e};
      if (!(f & unicode::kStripDrop)) lower_char(cp, f, s, e);
      return;
    }
    if (marks_size_ == marks_.size()) flush_marks();
    marks_[marks_size_++] = Mark{cp, f, ccc, inserted, s, e};
  }

  void flush_marks() {
    if (marks_size_ == 0) return;
    const auto first = marks_.begin();
    const auto last = first + static_cast<std::ptrdiff_t>(marks_size_);
    std::array<std::pair<std::uint32_t, std::uint32_t>, kMaxMarks> slots{};
    std::size_t n_slots = 0;
    for (auto it = first; it != last; ++it) {
      if (!it->inserted) slots[n_slots++] = {it->start, it->end};
    }
    std::stable_sort(first, last, [](const Mark& a, const Mark& b) { return a.ccc < b.ccc; });
    marks_size_ = 0;
    std::size_t next_slot = 0;
    for (auto it = first; it != last; ++it) {
      if (!it->inserted) prev_slot_ = slots[next_slot++];
      if (!(it->flags & unicode::kStripDrop)) {
        lower_char(it->cp, it->flags, prev_slot_.first, prev_slot_.second);
      }
    }
  }

  void lower_char(char32_t cp, std::uint8_t f, std::uint32_t s, std::uint32_t e) {
    if (!t_.lowercase || !(f & unicode::kLower)) {
      pre_tokenize(cp, f, s, e);
      return;
    }
    unicode::Chars lower{};
    const std::size_t n = unicode::lower(cp, lower);
    for (std::size_t k = 0; k < n; ++k) pre_tokenize(lower[k], unicode::flags(lower[k]), s, e);
  }

  void pre_tokenize(char32_t cp, std::uint8_t f, std::uint32_t s, std::uint32_t e) {
    if (f & unicode::kWhitespace) {
      flush_word();
    } else if (f & unicode::kPunct) {
      flush_word();
      word_.push(cp, s, e);
      flush_word();
    } else {
      word_.push(cp, s, e);
    }
  }

  void flush_word() {
    if (word_.empty()) return;
    word_piece();
    word_.clear();
  }

  // Greedy longest-match-first; a word with any unknown piece becomes [UNK].
  void word_piece() {
    if (word_.too_long()) {
      emit(t_.unk_id, word_.first_start(), word_.last_end());
      return;
    }
    const std::size_t saved_count = count_;
    const std::size_t saved_size = out_.ids.size();
    const char* w = word_.data();
    const std::size_t n = word_.size();
    for (std::size_t start = 0; start < n;) {
      const VocabMap& map = start == 0 ? t_.vocab : t_.continuation;
      std::size_t end = std::min(n, start + map.max_key_length());
      while (end < n && end > start && is_continuation(w[end])) --end;
      std::int32_t id = VocabMap::kMissing;
      while (end > start) {
        id = map.find(std::string_view(w + start, end - start));
        if (id != VocabMap::kMissing) break;
        do {
          --end;
        } while (end > start && is_continuation(w[end]));
      }
      if (id == VocabMap::kMissing) {
        roll_back(saved_count, saved_size);
        emit(t_.unk_id, word_.first_start(), word_.last_end());
        return;
      }
      emit(id, word_.start_at(start), word_.end_at(end - 1));
      start = end;
    }
  }

  void roll_back(std::size_t count, std::size_t size) {
    count_ = count;
    out_.ids.resize(size);
    out_.type_ids.resize(size);
    if (offsets_) out_.offsets.resize(size);
  }

  const TokenizerData& t_;
  std::string_view text_;
  Encoding& out_;
  std::size_t limit_;  // content tokens kept
  bool offsets_;
  std::size_t count_ = 0;  // content tokens seen
  WordBuffer word_;
  std::array<Mark, kMaxMarks> marks_{};  // combining marks waiting for canonical ordering
  std::size_t marks_size_ = 0;
  std::pair<std::uint32_t, std::uint32_t> prev_slot_{0, 0};  // last original char consumed
};

std::size_t content_limit(const TokenizerData& t, const EncodeOptions& options) {
  if (!options.truncate) return std::numeric_limits<std::size_t>::max();
  const std::size_t max_length =
      options.max_length != 0 ? options.max_length : t.truncation_max_length;
  if (max_length == 0) return std::numeric_limits<std::size_t>::max();
  const std::size_t specials = t.before.size() + t.after.size();
  if (max_length < specials) {
    throw invalid_request("max_length " + std::to_string(max_length) +
                          " is shorter than the special tokens (" + std::to_string(specials) + ")");
  }
  return max_length - specials;
}

// Keeps the last `limit` content tokens (between the `before` and `after`
// special tokens) of an untruncated encoding.
void drop_front(Encoding& out, std::size_t before, std::size_t after, std::size_t limit) {
  const std::size_t content = out.ids.size() - before - after;
  if (content <= limit) return;
  const auto first = static_cast<std::ptrdiff_t>(before);
  const auto last = static_cast<std::ptrdiff_t>(before + content - limit);
  out.ids.erase(out.ids.begin() + first, out.ids.begin() + last);
  out.type_ids.erase(out.type_ids.begin() + first, out.type_ids.begin() + last);
  if (!out.offsets.empty())
    out.offsets.erase(out.offsets.begin() + first, out.offsets.begin() + last);
}

}  // namespace

struct Tokenizer::Impl : TokenizerData {
  explicit Impl(TokenizerData&& data) : TokenizerData(std::move(data)) {}
};

void Encoding::clear() noexcept {
  ids.clear();
  type_ids.clear();
  offsets.clear();
  tokens_before_truncation = 0;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_json(std::string_view json, const std::string& origin) {
  return Tokenizer(std::make_unique<Impl>(parse_tokenizer_json(json, origin)));
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw model_error(path.string(), "cannot open tokenizer file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw model_error(path.string(), "cannot read tokenizer file");
  return from_json(text.str(), path.string());
}

void Tokenizer::encode(std::string_view text, Encoding& out, const EncodeOptions& options) const {
  out.clear();
  if (text.size() >= std::numeric_limits<std::uint32_t>::max()) {
    throw invalid_request("text is too long (" + std::to_string(text.size()) + " bytes)");
  }
  if (const auto bad = find_invalid_utf8(text)) {
    throw invalid_request("invalid UTF-8 at byte offset " + std::to_string(*bad));
  }
  const std::size_t limit = content_limit(*impl_, options);
  const bool left = options.direction == TruncationDirection::Left;
  // Left truncation encodes everything, then drops tokens from the front.
  const std::size_t encode_limit = left ? std::numeric_limits<std::size_t>::max() : limit;
  if (impl_->unigram) {
    encode_unigram(*impl_, text, out, encode_limit, options.with_offsets);
  } else {
    Encoder(*impl_, text, out, encode_limit, options.with_offsets).run();
  }
  if (left) drop_front(out, impl_->before.size(), impl_->after.size(), limit);
}

Encoding Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  Encoding out;
  encode(text, out, options);
  return out;
}

std::size_t Tokenizer::vocab_size() const noexcept { return impl_->vocab.size(); }

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
  const std::int32_t id = impl_->vocab.find(token);
  if (id == VocabMap::kMissing) return std::nullopt;
  return id;
}

std::string_view Tokenizer::id_to_token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->id_to_token.size()) return {};
  return impl_->id_to_token[id];
}

bool Tokenizer::is_special(std::int32_t id) const noexcept { return is_special_token(*impl_, id); }

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
  return decode_ids(*impl_, ids, skip_special_tokens);
}

std::int32_t Tokenizer::cls_id() const noexcept { return impl_->cls_id; }
std::int32_t Tokenizer::sep_id() const noexcept { return impl_->sep_id; }
std::int32_t Tokenizer::pad_id() const noexcept { return impl_->pad_id; }
std::int32_t Tokenizer::unk_id() const noexcept { return impl_->unk_id; }
std::size_t Tokenizer::truncation_max_length() const noexcept {
  return impl_->truncation_max_length;
}

}  // namespace akidb::embed
