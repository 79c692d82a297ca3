// libFuzzer harness for the Unigram tokenizer: arbitrary bytes in, invariants
// checked on four variants (as trained, published layout, byte fallback,
// NFKC). The first byte picks the variant and options; the rest is the text.
// Tokenizer: $AKIDB_FUZZ_UNIGRAM, default
// tests/data/tokenizers/unigram_xlmr_like.json.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "akidb/embed/error.hpp"
#include "akidb/embed/tokenizer.hpp"

namespace {

using akidb::embed::EncodeOptions;
using akidb::embed::Encoding;
using akidb::embed::Error;
using akidb::embed::ErrorCode;
using akidb::embed::Tokenizer;
using nlohmann::json;

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<Tokenizer> load_variants() {
  const char* env = std::getenv("AKIDB_FUZZ_UNIGRAM");
  const std::string path = env ? env : "tests/data/tokenizers/unigram_xlmr_like.json";
  const auto base = json::parse(read_file(path.c_str()));
  std::vector<Tokenizer> out;
  out.push_back(Tokenizer::from_json(base.dump(), path));
  auto published = base;  // xlm-roberta-base layout, RobertaProcessing trims offsets
  published["normalizer"]["normalizers"] =
      json::array({base["normalizer"]["normalizers"][0],
                   json::parse(R"({"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "})")});
  published["post_processor"] = json::parse(
      R"({"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0],"trim_offsets":true,"add_prefix_space":true})");
  for (auto& token : published["added_tokens"]) token["lstrip"] = token["content"] == "<mask>";
  out.push_back(Tokenizer::from_json(published.dump(), path + " (published layout)"));
  auto bytes = base;  // no charsmap, byte fallback, prepend first
  bytes["normalizer"] = json::parse(
      R"({"type":"Sequence","normalizers":[{"type":"Lowercase"},{"type":"Strip","strip_left":true,"strip_right":true}]})");
  bytes["model"]["byte_fallback"] = true;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    bytes["model"]["vocab"].push_back({name, -30.0});
  }
  bytes["pre_tokenizer"]["prepend_scheme"] = "first";
  for (auto& token : bytes["added_tokens"]) token["rstrip"] = token["content"] == "</s>";
  out.push_back(Tokenizer::from_json(bytes.dump(), path + " (byte fallback)"));
  auto nfkc = base;  // NFKC in place of the charsmap, no split
  nfkc["normalizer"]["normalizers"][0] = json{{"type", "NFKC"}};
  nfkc["pre_tokenizer"]["split"] = false;
  nfkc["pre_tokenizer"]["prepend_scheme"] = "never";
  out.push_back(Tokenizer::from_json(nfkc.dump(), path + " (NFKC)"));
  return out;
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool is_boundary(std::string_view text, std::uint32_t at) {
  return at == text.size() || (static_cast<unsigned char>(text[at]) & 0xC0) != 0x80;
}

void check_encoding(const Tokenizer& tok, std::string_view text, const Encoding& e,
                    std::size_t max_length) {
  check(e.ids.size() >= 2 && e.ids.size() == e.type_ids.size());
  check(e.ids.size() == e.offsets.size());
  check(e.ids.front() == tok.cls_id() && e.ids.back() == tok.sep_id());
  check(max_length == 0 || e.ids.size() <= max_length);
  check(e.tokens_before_truncation >= e.ids.size());
  check(e.tokens_before_truncation == e.ids.size() || e.ids.size() == max_length);
  for (std::size_t i = 1; i + 1 < e.ids.size(); ++i) {
    const auto [s, t] = e.offsets[i];
    check(e.ids[i] >= 0 && !tok.id_to_token(e.ids[i]).empty());
    check(s <= t && t <= text.size() && is_boundary(text, s) && is_boundary(text, t));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<Tokenizer> tokenizers = load_variants();
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Tokenizer& tok = tokenizers[mode % tokenizers.size()];
  const std::size_t max_length = (mode & 0x10) ? 2 + (mode >> 5) : 256;
  Encoding e;
  const bool valid = !akidb::embed::find_invalid_utf8(text).has_value();
  try {
    tok.encode(text, e, EncodeOptions{max_length, true, true});
    check(valid);
    check_encoding(tok, text, e, max_length);
    Encoding full;
    tok.encode(text, full, EncodeOptions{max_length, false, false});
    check(full.tokens_before_truncation == e.tokens_before_truncation);
    check(full.ids.size() == full.tokens_before_truncation);
    for (std::size_t i = 0; i + 1 < e.ids.size(); ++i) check(full.ids[i] == e.ids[i]);
  } catch (const Error& err) {
    check(!valid && err.code() == ErrorCode::InvalidInput);
  }
  return 0;
}
