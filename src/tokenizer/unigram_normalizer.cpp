#include "tokenizer/unigram_normalizer.hpp"

#include <utf8proc.h>
#include <string_view>

#include "tokenizer/nfkc.hpp"
#include "tokenizer/unicode.hpp"

namespace akidb::embed {
namespace {

std::size_t count_chars(std::string_view s) noexcept {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// HF precompiled.rs `replace`: the new characters, the last `diff` of them
// inserted when the text grows, the last operation absorbing the removal when
// it shrinks (which may be a previous character's).
void push_replacement(std::vector<EditOp>& ops, std::string_view old_part,
                      std::string_view new_part) {
  copy_ops(new_part, ops);
  const auto diff = static_cast<std::int32_t>(count_chars(new_part)) -
                    static_cast<std::int32_t>(count_chars(old_part));
  if (diff > 0) {
    for (std::int32_t k = 0; k < diff; ++k)
      ops[ops.size() - 1 - static_cast<std::size_t>(k)].change = 1;
  } else if (diff < 0 && !ops.empty()) {
    ops.back().change += diff;
  }
}

// One grapheme: looked up whole when shorter than 6 bytes, else (or when that
// fails) character by character.
bool precompile_grapheme(const PrecompiledCharsmap& map, std::string_view g,
                         std::vector<EditOp>& ops) {
  if (g.size() == 1 && static_cast<unsigned char>(g[0]) < 0x80) {
    if (const auto norm = map.transform_ascii(g[0])) {
      push_replacement(ops, g, *norm);
      return true;
    }
    ops.push_back({static_cast<char32_t>(g[0]), 0});
    return false;
  }
  if (g.size() < 6) {
    if (const auto norm = map.transform(g)) {
      push_replacement(ops, g, *norm);
      return true;
    }
  }
  bool modified = false;
  const auto* p = reinterpret_cast<const unsigned char*>(g.data());
  for (std::size_t i = 0; i < g.size();) {
    char32_t cp = 0;
    const std::size_t len = unicode::decode(p + i, cp);
    const std::string_view part = g.substr(i, len);
    if (const auto norm = map.transform(part)) {
      push_replacement(ops, part, *norm);
      modified = true;
    } else {
      ops.push_back({cp, 0});
    }
    i += len;
  }
  return modified;
}

// Unassigned default-ignorable code points are Grapheme_Cluster_Break=Control
// (UAX #29), which HF's segmentation honours and utf8proc 2.8 does not.
bool unassigned_control(char32_t cp) noexcept {
  const bool ignorable_range =
      cp == 0x2065 || (cp >= 0xFFF0 && cp <= 0xFFF8) || (cp >= 0xE0000 && cp <= 0xE0FFF);
  return ignorable_range &&
         utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_CN;
}

// Between two ASCII characters there is always a boundary except inside CR LF,
// and the state utf8proc would carry is that of a plain character (reset).
bool grapheme_break(char32_t prev, char32_t cp, utf8proc_int32_t& state) noexcept {
  if (prev < 0x80 && cp < 0x80) {
    state = 0;
    return !(prev == U'\r' && cp == U'\n');
  }
  if (unassigned_control(prev) || unassigned_control(cp)) {  // GB4, GB5
    state = 0;
    return true;
  }
  return utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                          static_cast<utf8proc_int32_t>(cp), &state);
}

void run_precompiled(const PrecompiledCharsmap& map, NormalizedText& text,
                     std::vector<EditOp>& ops) {
  ops.clear();
  const std::string& s = text.text();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  bool modified = false;
  std::size_t start = 0;
  utf8proc_int32_t state = 0;
  char32_t prev = 0;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const std::size_t len = unicode::decode(p + i, cp);
    if (i > 0 && grapheme_break(prev, cp, state)) {
      modified |= precompile_grapheme(map, std::string_view(s).substr(start, i - start), ops);
      start = i;
    }
    prev = cp;
    i += len;
  }
  if (start < s.size())
    modified |= precompile_grapheme(map, std::string_view(s).substr(start), ops);
  if (modified) text.apply(ops);
}

// Whether the first (or last) character of s is whitespace.
bool whitespace_at_end(std::string_view s, bool at_back) noexcept {
  std::size_t i = at_back ? s.size() - 1 : 0;
  if (at_back) {
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  }
  char32_t cp = 0;
  unicode::decode(reinterpret_cast<const unsigned char*>(s.data()) + i, cp);
  return (unicode::flags(cp) & unicode::kWhitespace) != 0;
}

void run_strip(const StripRule& rule, NormalizedText& text, std::vector<EditOp>& ops) {
  if (!(rule.left && whitespace_at_end(text.text(), false)) &&
      !(rule.right && whitespace_at_end(text.text(), true))) {
    return;
  }
  ops.clear();
  copy_ops(text.text(), ops);
  std::size_t leading = 0;
  std::size_t trailing = 0;
  if (rule.left) {
    while (leading < ops.size() && (unicode::flags(ops[leading].c) & unicode::kWhitespace)) {
      ++leading;
    }
  }
  if (rule.right) {
    while (trailing < ops.size() - leading &&
           (unicode::flags(ops[ops.size() - 1 - trailing].c) & unicode::kWhitespace)) {
      ++trailing;
    }
  }
  if (leading == 0 && trailing == 0) return;
  ops.resize(ops.size() - trailing);
  ops.erase(ops.begin(), ops.begin() + static_cast<std::ptrdiff_t>(leading));
  ops.insert(ops.begin(), EditOp{EditOp::kSkip, -static_cast<std::int32_t>(leading)});
  text.apply(ops);
}

// Rust char::to_lowercase per character: the first output replaces, the rest
// are inserted.
void run_lowercase(NormalizedText& text, std::vector<EditOp>& ops) {
  ops.clear();
  bool modified = false;
  const std::string& s = text.text();
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    i += unicode::decode(p + i, cp);
    if (!(unicode::flags(cp) & unicode::kLower)) {
      ops.push_back({cp, 0});
      continue;
    }
    unicode::Chars lower{};
    const std::size_t n = unicode::lower(cp, lower);
    for (std::size_t k = 0; k < n; ++k) ops.push_back({lower[k], k == 0 ? 0 : 1});
    modified = true;
  }
  if (modified) text.apply(ops);
}

// Length of the match of `rule` at byte `i`, or 0.
std::size_t match_at(const ReplaceRule& rule, std::string_view s, std::size_t i) noexcept {
  const std::string_view unit = rule.literal;
  if (s[i] != unit[0]) return 0;
  if (!rule.repeated) return s.compare(i, unit.size(), unit) == 0 ? unit.size() : 0;
  std::size_t count = 0;
  std::size_t j = i;
  while (s.compare(j, unit.size(), unit) == 0) {
    j += unit.size();
    ++count;
  }
  return count >= rule.min_repeat ? j - i : 0;
}

}  // namespace

// Each match: its characters removed, the content inserted (aligned with the
// last removed byte, as HF's transform_range with initial_offset does).
void replace_all(const ReplaceRule& rule, NormalizedText& text, std::vector<EditOp>& ops) {
  ops.clear();
  if (rule.literal.empty()) return;
  const std::string_view s = text.text();
  bool matched = false;
  std::size_t copied = 0;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = match_at(rule, s, i);
    if (len == 0) {
      ++i;
      continue;
    }
    copy_ops(s.substr(copied, i - copied), ops);
    ops.push_back({EditOp::kSkip, -static_cast<std::int32_t>(count_chars(s.substr(i, len)))});
    const std::size_t first_new = ops.size();
    copy_ops(rule.content, ops);
    for (std::size_t k = first_new; k < ops.size(); ++k) ops[k].change = 1;
    matched = true;
    i += len;
    copied = i;
  }
  if (!matched) return;
  copy_ops(s.substr(copied), ops);
  text.apply(ops);
}

void run_normalizers(const std::vector<NormalizerStep>& steps, NormalizedText& text,
                     std::vector<EditOp>& ops) {
  for (const NormalizerStep& step : steps) {
    if (text.empty()) return;
    if (const auto* map = std::get_if<PrecompiledCharsmap>(&step)) {
      run_precompiled(*map, text, ops);
    } else if (const auto* replace = std::get_if<ReplaceRule>(&step)) {
      replace_all(*replace, text, ops);
    } else if (const auto* strip = std::get_if<StripRule>(&step)) {
      run_strip(*strip, text, ops);
    } else if (std::holds_alternative<LowercaseRule>(step)) {
      run_lowercase(text, ops);
    } else {
      run_nfkc(text, ops);
    }
  }
}

bool parse_replace_regex(const std::string& regex, ReplaceRule& rule) {
  constexpr std::string_view kMeta = ".^$*+?()[]{}|\\";
  if (regex.find_first_of(kMeta) == std::string::npos) {
    rule.literal = regex;
    rule.repeated = false;
    return !regex.empty();
  }
  std::size_t i = 0;
  std::string unit;
  if (regex[0] == '\\') {
    if (regex.size() < 2 || kMeta.find(regex[1]) == std::string_view::npos) return false;
    unit = regex.substr(1, 1);
    i = 2;
  } else {
    if (kMeta.find(regex[0]) != std::string_view::npos) return false;
    const auto lead = static_cast<unsigned char>(regex[0]);
    i = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    if (i > regex.size()) return false;
    unit = regex.substr(0, i);
  }
  const std::string quantifier = regex.substr(i);
  rule.literal = unit;
  rule.repeated = true;
  if (quantifier == "+") {
    rule.min_repeat = 1;
    return true;
  }
  if (quantifier.size() < 4 || quantifier.front() != '{' || !quantifier.ends_with(",}")) {
    return false;
  }
  const std::string digits = quantifier.substr(1, quantifier.size() - 3);
  if (digits.empty() || digits.size() > 6 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  rule.min_repeat = std::stoul(digits);
  return rule.min_repeat >= 1;
}

}  // namespace akidb::embed
