#include "tokenizer/nfkc.hpp"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <optional>

#include "tokenizer/unicode.hpp"

namespace akidb::embed {
namespace {

#include "tokenizer/nfkc_table.inc"

// Assigned after the oracle's Unicode version: no decomposition for it.
bool oracle_undecomposed(char32_t c) noexcept {
  return c >= 0x80 &&
         std::binary_search(std::begin(kOracleUndecomposed), std::end(kOracleUndecomposed), c);
}

struct Part {
  char32_t c;
  int ccc;
  std::int32_t change;
};

// The oracle's combining classes (marks newer than its tables are starters).
int ccc_of(char32_t c) noexcept { return c < 0x300 ? 0 : unicode::combining_class(c); }

// The primary composite of <a, b>, if any (utf8proc composes a two-character
// buffer, honouring composition exclusions and Hangul).
std::optional<char32_t> compose(char32_t a, char32_t b) noexcept {
  if (b < 0x300) return std::nullopt;  // every second element is a mark or a jamo
  // utf8proc folds U+11A7 (T_BASE, not a trailing consonant) into an LV
  // syllable, dropping it; HF (and Unicode) leave the pair alone.
  if (b == 0x11A7) return std::nullopt;
  std::array<utf8proc_int32_t, 2> buffer{static_cast<utf8proc_int32_t>(a),
                                         static_cast<utf8proc_int32_t>(b)};
  const auto n = utf8proc_normalize_utf32(buffer.data(), 2, UTF8PROC_COMPOSE);
  if (n != 1 || oracle_undecomposed(static_cast<char32_t>(buffer[0]))) return std::nullopt;
  return static_cast<char32_t>(buffer[0]);
}

// Compatibility decomposition of the whole text; runs of non-starters are
// stably sorted by combining class, each part keeping its change.
void decompose(const std::string& s, std::vector<Part>& parts) {
  parts.clear();
  std::size_t run_start = 0;  // first non-starter of the pending run
  const auto flush_run = [&parts, &run_start] {
    std::stable_sort(parts.begin() + static_cast<std::ptrdiff_t>(run_start), parts.end(),
                     [](const Part& x, const Part& y) { return x.ccc < y.ccc; });
  };
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::array<utf8proc_int32_t, 32> buffer{};
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    i += unicode::decode(p + i, cp);
    utf8proc_ssize_t n = 1;
    buffer[0] = static_cast<utf8proc_int32_t>(cp);
    if (cp >= 0x80 && !oracle_undecomposed(cp)) {
      int boundclass = 0;
      n = utf8proc_decompose_char(
          static_cast<utf8proc_int32_t>(cp), buffer.data(),
          static_cast<utf8proc_ssize_t>(buffer.size()),
          static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT), &boundclass);
      if (n <= 0 || n > static_cast<utf8proc_ssize_t>(buffer.size())) {
        n = 1;
        buffer[0] = static_cast<utf8proc_int32_t>(cp);
      }
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
      const auto c = static_cast<char32_t>(buffer[static_cast<std::size_t>(k)]);
      const int ccc = ccc_of(c);
      if (ccc == 0) {
        flush_run();
        run_start = parts.size() + 1;
      }
      parts.push_back({c, ccc, k == 0 ? 0 : 1});
    }
  }
  flush_run();
}

// Canonical composition over the decomposed parts (the fork's Recompositions
// state machine): a composite takes change composee + part - 1; a starter
// that cannot compose flushes the composee and the blocked marks.
class Composer {
 public:
  explicit Composer(std::vector<EditOp>& out) : out_(out) {}

  void push(const Part& part) {
    if (!has_composee_) {
      if (part.ccc != 0) {
        emit(part.c, part.change);
        return;
      }
      composee_ = part;
      has_composee_ = true;
      return;
    }
    const bool blocked = last_ccc_ >= 0 && last_ccc_ >= part.ccc;
    if (!blocked) {
      if (const auto r = compose(composee_.c, part.c)) {
        composee_ = Part{*r, 0, composee_.change + part.change - 1};
        return;
      }
    }
    if (part.ccc == 0) {
      flush();
      composee_ = part;
      return;
    }
    pending_.push_back(part);
    last_ccc_ = part.ccc;
  }

  void finish() {
    if (has_composee_) flush();
    has_composee_ = false;
  }

 private:
  void flush() {
    emit(composee_.c, composee_.change);
    for (const Part& p : pending_) emit(p.c, p.change);
    pending_.clear();
    last_ccc_ = -1;
  }
  void emit(char32_t c, std::int32_t change) { out_.push_back({c, change}); }

  std::vector<EditOp>& out_;
  Part composee_{0, 0, 0};
  bool has_composee_ = false;
  std::vector<Part> pending_;
  int last_ccc_ = -1;
};

bool all_ascii(const std::string& s) noexcept {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

}  // namespace

void run_nfkc(NormalizedText& text, std::vector<EditOp>& ops) {
  if (all_ascii(text.text())) return;
  std::vector<Part> parts;
  decompose(text.text(), parts);
  ops.clear();
  Composer composer(ops);
  for (const Part& part : parts) composer.push(part);
  composer.finish();
  text.apply(ops);
}

}  // namespace akidb::embed
