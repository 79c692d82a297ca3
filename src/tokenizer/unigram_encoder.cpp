#include "tokenizer/unigram_encoder.hpp"

#include <vector>

#include "tokenizer/normalized_text.hpp"
#include "tokenizer/unicode.hpp"

namespace akidb::embed {
namespace {

constexpr char32_t kByteLevelSpace = 0x0120;  // 'Ġ', trimmed like whitespace by HF

bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

bool trimmable(char32_t cp) noexcept {
  return cp == kByteLevelSpace || (unicode::flags(cp) & unicode::kWhitespace);
}

// Leading and trailing trimmable characters of a token's text.
std::pair<std::size_t, std::size_t> count_trimmable(std::string_view token) noexcept {
  std::size_t leading = 0, trailing = 0;
  bool in_lead = true;
  const auto* p = reinterpret_cast<const unsigned char*>(token.data());
  for (std::size_t i = 0; i < token.size();) {
    char32_t cp = 0;
    i += unicode::decode(p + i, cp);
    const bool space = trimmable(cp);
    if (in_lead && space) {
      ++leading;
    } else {
      in_lead = false;
    }
    trailing = space ? trailing + 1 : 0;
  }
  return {leading, trailing};
}

class UnigramEncoder {
 public:
  UnigramEncoder(const TokenizerData& t, std::string_view text, Encoding& out, std::size_t limit,
                 bool with_offsets)
      : t_(t), u_(*t.unigram), text_(text), out_(out), limit_(limit), offsets_(with_offsets) {}

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

  // `token` is the token's text, for RobertaProcessing's offset trimming.
  void emit(std::int32_t id, Span span, std::string_view token) {
    const std::size_t index = count_++;
    if (count_ > limit_) return;
    out_.ids.push_back(id);
    out_.type_ids.push_back(t_.sequence_type_id);
    if (!offsets_) return;
    if (t_.trim_offsets) span = trim(span, token, index);
    out_.offsets.emplace_back(span.start, span.end);
  }

  // HF process_offsets: counts are characters, applied to character offsets.
  Span trim(Span span, std::string_view token, std::size_t index) const {
    auto [leading, trailing] = count_trimmable(token);
    if (leading > 0) {
      const bool is_first = index == 0 || span.start == 0;
      if (is_first && t_.add_prefix_space && leading == 1) leading = 0;
      for (; leading > 0 && span.start < span.end; --leading) {
        do {
          ++span.start;
        } while (span.start < span.end && is_continuation(text_[span.start]));
      }
    }
    if (trailing > 0) {
      std::uint32_t end = span.end;
      std::size_t moved = 0;
      while (moved < trailing && end > 0) {
        do {
          --end;
        } while (end > 0 && is_continuation(text_[end]));
        ++moved;
      }
      if (moved == trailing) span.end = std::max(end, span.start);
    }
    return span;
  }

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
      emit(added->id, Span{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(end)},
           text_.substr(start, end - start));
      i = end;
      segment_start = i;
    }
    segment(segment_start, n);
  }

  void segment(std::size_t begin, std::size_t end) {
    if (begin == end) return;
    norm_.assign(text_, static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end));
    run_normalizers(u_.normalizers, norm_, ops_);
    if (norm_.empty()) return;
    if (!u_.metaspace.enabled) {
      piece(0, norm_.size());
      return;
    }
    metaspace();
    split_pieces();
  }

  // Metaspace: ' ' becomes the replacement, which is then prepended if missing.
  // Both edits in one pass: the prepended character replaces the first
  // character, which is re-inserted (HF's prepend); each ' ' is removed and the
  // replacement inserted after it (HF's replace). A leading ' ' becomes the
  // replacement, so nothing is prepended then.
  void metaspace() {
    const MetaspaceConfig& m = u_.metaspace;
    const std::string& s = norm_.text();
    const bool prepend = (m.prepend == PrependScheme::Always ||
                          (m.prepend == PrependScheme::First && norm_.origin_start() == 0)) &&
                         s[0] != ' ' && !s.starts_with(m.replacement_utf8);
    if (!prepend && s.find(' ') == std::string::npos) return;
    ops_.clear();
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (std::size_t i = 0; i < s.size();) {
      char32_t cp = 0;
      i += unicode::decode(p + i, cp);
      if (cp == U' ') {
        ops_.push_back({EditOp::kSkip, -1});
        ops_.push_back({m.replacement, 1});
      } else {
        ops_.push_back({cp, 0});
      }
    }
    if (prepend) {
      ops_[0].change = 1;
      ops_.insert(ops_.begin(), EditOp{m.replacement, 0});
    }
    norm_.apply(ops_);
  }

  // split: every replacement character starts a new piece (MergedWithNext).
  void split_pieces() {
    const std::string& s = norm_.text();
    if (!u_.metaspace.split) {
      piece(0, s.size());
      return;
    }
    const std::string& r = u_.metaspace.replacement_utf8;
    std::size_t start = 0;
    for (std::size_t at = s.find(r, 1); at != std::string::npos; at = s.find(r, at + r.size())) {
      piece(start, at);
      start = at;
    }
    piece(start, s.size());
  }

  void piece(std::size_t begin, std::size_t end) {
    if (begin == end) return;
    const std::string_view s = std::string_view(norm_.text()).substr(begin, end - begin);
    u_.model.segment(s, lattice_, tokens_);
    for (const UnigramToken& tok : tokens_) {
      const Span span = norm_.original_span(begin + tok.begin, begin + tok.end);
      const std::string_view token = s.substr(tok.begin, tok.end - tok.begin);
      if (!tok.unknown) {
        emit(tok.id, span, token);
      } else {
        unknown(token, span);
      }
    }
  }

  // A fused unknown run: itself if it is a piece, else its bytes when every
  // <0xXX> piece exists (byte_fallback), else unk.
  void unknown(std::string_view token, Span span) {
    if (const std::int32_t id = u_.model.find(token); id != PieceTrie::kNone) {
      emit(id, span, token);
      return;
    }
    if (u_.model.byte_fallback()) {
      bool all = true;
      for (const char c : token) all = all && u_.model.byte_id(static_cast<unsigned char>(c)) >= 0;
      if (all) {
        for (const char c : token) emit(u_.model.byte_id(static_cast<unsigned char>(c)), span, {});
        return;
      }
    }
    emit(u_.model.unk_id(), span, token);
  }

  const TokenizerData& t_;
  const UnigramPipeline& u_;
  std::string_view text_;
  Encoding& out_;
  std::size_t limit_;
  bool offsets_;
  std::size_t count_ = 0;
  NormalizedText norm_;
  std::vector<EditOp> ops_;
  UnigramLattice lattice_;
  std::vector<UnigramToken> tokens_;
};

}  // namespace

void encode_unigram(const TokenizerData& t, std::string_view text, Encoding& out, std::size_t limit,
                    bool with_offsets) {
  UnigramEncoder(t, text, out, limit, with_offsets).run();
}

}  // namespace akidb::embed
