// Tokenizer unit tests. Expected ids were checked against Hugging Face
// tokenizers 0.22.1 (the parity suite in tests/e2e compares far more).
#include "akidb/embed/tokenizer.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "akidb/embed/error.hpp"
#include "test_support.hpp"
#include "tokenizer/unicode.hpp"

namespace akidb::embed {
namespace {

using Ids = std::vector<std::int32_t>;
using Offsets = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

std::filesystem::path model_tokenizer() { return test::model_dir() / "tokenizer.json"; }

class ModelTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::filesystem::exists(model_tokenizer())) {
      shared().emplace(Tokenizer::from_file(model_tokenizer()));
    }
  }
  static void TearDownTestSuite() { shared().reset(); }
  void SetUp() override {
    ASSERT_TRUE(shared()) << "model not prepared (run make test): " << model_tokenizer();
    tok_ = &*shared();
  }
  static std::optional<Tokenizer>& shared() {
    static std::optional<Tokenizer> tokenizer;
    return tokenizer;
  }
  Ids ids(std::string_view text, EncodeOptions options = {}) const {
    return tok_->encode(text, options).ids;
  }
  const Tokenizer* tok_ = nullptr;
};

TEST_F(ModelTokenizer, KnownIds) {
  EXPECT_EQ(ids("hello world"), (Ids{101, 7592, 2088, 102}));
  EXPECT_EQ(ids("Hello, World!"), (Ids{101, 7592, 1010, 2088, 999, 102}));
  EXPECT_EQ(ids("héllo wörld — naïve café"), (Ids{101, 7592, 2088, 1517, 15743, 7668, 102}));
  EXPECT_EQ(ids("中文"), (Ids{101, 1746, 1861, 102}));
  EXPECT_EQ(ids("I love pizza 🍕"), (Ids{101, 1045, 2293, 10733, 100, 102}));
  EXPECT_EQ(ids("unaffable"), (Ids{101, 14477, 20961, 3468, 102}));
  EXPECT_EQ(ids("[MASK] test"), (Ids{101, 103, 3231, 102}));
  EXPECT_EQ(ids("İstanbul"), (Ids{101, 9960, 102}));
  EXPECT_EQ(ids(std::string(101, 'a')), (Ids{101, 100, 102}));
}

TEST_F(ModelTokenizer, LeftTruncationKeepsTheEnd) {
  const EncodeOptions right{4, true, true, TruncationDirection::Right};
  const EncodeOptions left{4, true, true, TruncationDirection::Left};
  EXPECT_EQ(ids("a b c d e", right), (Ids{101, 1037, 1038, 102}));
  EXPECT_EQ(ids("a b c d e", left), (Ids{101, 1040, 1041, 102}));
  const auto enc = tok_->encode("a b c d e", left);
  EXPECT_EQ(enc.tokens_before_truncation, 7U);
  EXPECT_EQ(enc.offsets[1], (std::pair<std::uint32_t, std::uint32_t>{6, 7}));
  EXPECT_EQ(enc.type_ids.size(), 4U);
  EXPECT_EQ(ids("a b", left), (Ids{101, 1037, 1038, 102}));  // short enough: untouched
}

// Expected strings from HF tokenizers' decode() on the same ids.
TEST_F(ModelTokenizer, DecodeAsHfTokenizers) {
  EXPECT_EQ(tok_->decode(Ids{101, 14477, 20961, 3468, 102}), "unaffable");
  EXPECT_EQ(tok_->decode(Ids{101, 14477, 20961, 3468, 102}, false), "[CLS] unaffable [SEP]");
  EXPECT_EQ(tok_->decode(Ids{101, 7592, 1010, 2088, 999, 2123, 1005, 1056, 102}),
            "hello, world! don ' t");
  EXPECT_EQ(tok_->decode(Ids{103, 3231}), "test");  // [MASK] is special
  EXPECT_EQ(tok_->decode(Ids{}), "");
  try {
    tok_->decode(Ids{7592, 30522});
    FAIL() << "an id outside the vocabulary was decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_STREQ(e.what(), "token id 30522 at position 1 is outside the vocabulary [0, 30522)");
  }
}

TEST_F(ModelTokenizer, SpecialIds) {
  EXPECT_EQ(tok_->cls_id(), 101);
  EXPECT_EQ(tok_->sep_id(), 102);
  EXPECT_EQ(tok_->pad_id(), 0);
  EXPECT_EQ(tok_->unk_id(), 100);
  EXPECT_EQ(tok_->vocab_size(), 30522u);
  EXPECT_EQ(tok_->token_to_id("hello"), 7592);
  EXPECT_EQ(tok_->token_to_id("##ffa"), 20961);
  EXPECT_FALSE(tok_->token_to_id("not-a-token"));
  EXPECT_EQ(tok_->id_to_token(7592), "hello");
  EXPECT_EQ(tok_->id_to_token(-1), "");
  EXPECT_EQ(tok_->id_to_token(1 << 30), "");
  const auto spec = nlohmann::json::parse(std::ifstream(model_tokenizer()));
  EXPECT_EQ(tok_->truncation_max_length(), spec["truncation"]["max_length"].get<std::size_t>());
}

TEST_F(ModelTokenizer, EmptyAndBlankInputs) {
  for (const char* text : {"", " ", "\t\n ", "\x01\x02"}) {
    const Encoding e = tok_->encode(text, {0, true, true});
    EXPECT_EQ(e.ids, (Ids{101, 102})) << text;
    EXPECT_EQ(e.type_ids, (Ids{0, 0}));
    EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 0}}));
    EXPECT_EQ(e.tokens_before_truncation, 2u);
  }
}

TEST_F(ModelTokenizer, ByteOffsetsIntoTheOriginal) {
  const Encoding e = tok_->encode("héllo wörld, 中", {0, true, true});
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 6}, {7, 13}, {13, 14}, {15, 18}, {0, 0}}));
  const Encoding no_offsets = tok_->encode("héllo");
  EXPECT_TRUE(no_offsets.offsets.empty());
}

TEST_F(ModelTokenizer, Truncation) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "x ";
  const Encoding e = tok_->encode(text, {10, true, false});
  EXPECT_EQ(e.ids, (Ids{101, 1060, 1060, 1060, 1060, 1060, 1060, 1060, 1060, 102}));
  EXPECT_EQ(e.tokens_before_truncation, 302u);
  EXPECT_EQ(tok_->encode(text, {10, false, false}).ids.size(), 302u);
  EXPECT_EQ(tok_->encode(text).ids.size(), tok_->truncation_max_length());  // the file's own
  EXPECT_EQ(tok_->encode(text, {2, true, false}).ids, (Ids{101, 102}));
  try {
    tok_->encode(text, {1, true, false});
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::InvalidInput);
  }
}

TEST_F(ModelTokenizer, ReusedEncodingIsReset) {
  Encoding e;
  tok_->encode("a much longer sentence than the next one", e, {0, true, true});
  tok_->encode("hi", e, {0, true, false});
  EXPECT_EQ(e.ids, (Ids{101, 7632, 102}));
  EXPECT_TRUE(e.offsets.empty());
  EXPECT_EQ(e.tokens_before_truncation, 3u);
}

TEST_F(ModelTokenizer, ConcurrentEncodesAgree) {
  const std::vector<std::string> texts = {"hello world", "naïve café", "中文分词", "a b c d"};
  std::vector<Ids> expected;
  for (const auto& t : texts) expected.push_back(ids(t));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      Encoding e;
      for (int round = 0; round < 2000; ++round) {
        const std::size_t i = static_cast<std::size_t>(round + k) % texts.size();
        tok_->encode(texts[i], e, {0, true, true});
        if (e.ids != expected[i]) ++failures[static_cast<std::size_t>(k)];
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, (std::vector<int>{0, 0, 0, 0}));
}

// ---- invalid UTF-8 ---------------------------------------------------------

struct BadUtf8 {
  std::string text;
  std::size_t offset;
  const char* what;
};

TEST(Utf8, FindsTheFirstInvalidByte) {
  const std::vector<BadUtf8> cases = {
      {"\x80", 0, "stray continuation"},
      {"ab\xC0\xAF", 2, "overlong 2-byte"},
      {"\xC1\xBF", 0, "overlong C1"},
      {"x\xE0\x80\x80", 1, "overlong 3-byte"},
      {"\xF0\x80\x80\x80", 0, "overlong 4-byte"},
      {"a\xED\xA0\x80", 1, "surrogate D800"},
      {"a\xED\xBF\xBF", 1, "surrogate DFFF"},
      {"\xF4\x90\x80\x80", 0, "above U+10FFFF"},
      {"\xF5\x80\x80\x80", 0, "F5 lead"},
      {"abc\xE2\x82", 3, "truncated at end"},
      {"ok\xC3(", 2, "bad continuation"},
      {"\xE2\x82\xAC\xFF", 3, "FF byte"},
      {"h\xC3\xA9llo\xF0\x9F\x8D", 6, "truncated emoji"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(find_invalid_utf8(c.text), c.offset) << c.what;
  }
  for (const char* ok : {"", "hello", "h\xC3\xA9llo", "\xF4\x8F\xBF\xBF", "\xEF\xBF\xBD",
                         "\xED\x9F\xBF", "\xEE\x80\x80", "\xF0\x90\x80\x80"}) {
    EXPECT_FALSE(find_invalid_utf8(ok)) << ok;
  }
}

TEST_F(ModelTokenizer, InvalidUtf8IsInvalidInputWithTheOffset) {
  const std::vector<BadUtf8> cases = {
      {"\x80", 0, "stray continuation"},  {"ab\xC0\xAF", 2, "overlong"},
      {"a\xED\xA0\x80", 1, "surrogate"},  {"\xF4\x90\x80\x80", 0, "above U+10FFFF"},
      {"hello \xE2\x82", 6, "truncated"},
  };
  for (const auto& c : cases) {
    try {
      tok_->encode(c.text);
      ADD_FAILURE() << "no error for " << c.what;
    } catch (const Error& err) {
      EXPECT_EQ(err.code(), ErrorCode::InvalidInput) << c.what;
      EXPECT_EQ(std::string(err.what()), "invalid UTF-8 at byte offset " + std::to_string(c.offset))
          << c.what;
    }
  }
}

// ---- tokenizer.json variants ---------------------------------------------------

nlohmann::json tiny_spec() {
  return nlohmann::json::parse(R"({
    "version": "1.0", "truncation": null, "padding": null,
    "added_tokens": [{"id": 2, "content": "[CLS]", "special": true}],
    "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                   "strip_accents": null, "lowercase": true},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing",
      "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                 {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
      "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                         "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
              "max_input_chars_per_word": 100,
              "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hel": 4, "##lo": 5,
                        "@@lo": 6, "Hello": 7, "café": 8, "cafe": 9, ",": 10}}
  })");
}

Ids encode_with(const nlohmann::json& spec, std::string_view text) {
  return Tokenizer::from_json(spec.dump(), "tiny.json").encode(text).ids;
}

TEST(TokenizerJson, DefaultUncased) {
  const auto spec = tiny_spec();
  EXPECT_EQ(encode_with(spec, "hello"), (Ids{2, 4, 5, 3}));
  EXPECT_EQ(encode_with(spec, "Hello,hello"), (Ids{2, 4, 5, 10, 4, 5, 3}));
  EXPECT_EQ(encode_with(spec, "Café"), (Ids{2, 9, 3}));   // strip_accents follows lowercase
  EXPECT_EQ(encode_with(spec, "hellx"), (Ids{2, 1, 3}));  // one bad piece: whole word [UNK]
  EXPECT_EQ(encode_with(spec, "x[CLS]hello"), (Ids{2, 1, 2, 4, 5, 3}));  // added token
}

TEST(TokenizerJson, Cased) {
  auto spec = tiny_spec();
  spec["normalizer"]["lowercase"] = false;
  EXPECT_EQ(encode_with(spec, "Hello"), (Ids{2, 7, 3}));
  EXPECT_EQ(encode_with(spec, "hello"), (Ids{2, 4, 5, 3}));
  EXPECT_EQ(encode_with(spec, "café"), (Ids{2, 8, 3}));  // strip_accents null -> false
}

TEST(TokenizerJson, KeepAccents) {
  auto spec = tiny_spec();
  spec["normalizer"]["strip_accents"] = false;
  EXPECT_EQ(encode_with(spec, "CAFÉ"), (Ids{2, 8, 3}));
}

TEST(TokenizerJson, OtherPrefix) {
  auto spec = tiny_spec();
  spec["model"]["continuing_subword_prefix"] = "@@";
  EXPECT_EQ(encode_with(spec, "hello"), (Ids{2, 4, 6, 3}));
}

TEST(TokenizerJson, BertProcessingAndNone) {
  auto spec = tiny_spec();
  spec["post_processor"] = {
      {"type", "BertProcessing"}, {"cls", {"[CLS]", 2}}, {"sep", {"[SEP]", 3}}};
  EXPECT_EQ(encode_with(spec, "hello"), (Ids{2, 4, 5, 3}));
  spec["post_processor"] = nullptr;
  const auto e = Tokenizer::from_json(spec.dump(), "tiny.json").encode("hello");
  EXPECT_EQ(e.ids, (Ids{4, 5}));
  EXPECT_EQ(e.tokens_before_truncation, 2u);
}

TEST(TokenizerJson, MaxInputCharsPerWord) {
  auto spec = tiny_spec();
  spec["model"]["max_input_chars_per_word"] = 4;
  EXPECT_EQ(encode_with(spec, "hello"), (Ids{2, 1, 3}));
  EXPECT_EQ(encode_with(spec, "café"), (Ids{2, 9, 3}));  // 4 chars after normalization
}

void expect_model_error(const std::string& json, const std::string& origin,
                        const std::string& fragment) {
  try {
    Tokenizer::from_json(json, origin);
    ADD_FAILURE() << "no error, expected " << fragment;
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::ModelError);
    const std::string what = err.what();
    EXPECT_NE(what.find(origin), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

TEST(TokenizerJson, UnsupportedModelTypes) {
  for (const char* type : {"BPE", "WordLevel"}) {
    auto spec = tiny_spec();
    spec["model"]["type"] = type;
    expect_model_error(
        spec.dump(), "/models/x/tokenizer.json",
        std::string("unsupported tokenizer model type '") + type + "' (only WordPiece, Unigram)");
  }
}

TEST(TokenizerJson, CorruptFiles) {
  expect_model_error("{not json", "bad.json", "invalid tokenizer.json");
  expect_model_error("[]", "bad.json", "no 'model'");
  auto spec = tiny_spec();
  spec["model"]["unk_token"] = "<unk>";
  expect_model_error(spec.dump(), "bad.json", "'<unk>' is not in the vocabulary");
  spec = tiny_spec();
  spec["normalizer"] = {{"type", "NFKC"}};
  expect_model_error(spec.dump(), "bad.json", "unsupported normalizer 'NFKC'");
  spec = tiny_spec();
  spec["model"]["vocab"] = "oops";
  expect_model_error(spec.dump(), "bad.json", "invalid tokenizer.json");
}

TEST(TokenizerJson, MissingFileNamesTheFile) {
  const std::filesystem::path path = "/nonexistent/dir/tokenizer.json";
  try {
    Tokenizer::from_file(path);
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::ModelError);
    EXPECT_NE(std::string(err.what()).find(path.string()), std::string::npos) << err.what();
  }
}

TEST(TokenizerJson, FromFile) {
  const auto path = std::filesystem::temp_directory_path() / "akidb_tiny_tokenizer.json";
  std::ofstream(path) << tiny_spec().dump();
  EXPECT_EQ(Tokenizer::from_file(path).encode("hello").ids, (Ids{2, 4, 5, 3}));
  std::filesystem::remove(path);
}

// The accent-stripping table (from the oracle) and utf8proc's decomposition
// (used at run time) must agree for every code point.
TEST(UnicodeTables, Utf8procDecompositionMatchesTheOracle) {
  int mismatches = 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (!(unicode::flags(cp) & unicode::kStripMap)) continue;
    unicode::Chars expected{}, parts{};
    const std::size_t n_expected = unicode::strip(cp, expected);
    const std::size_t n_parts = unicode::decompose(cp, parts);
    std::vector<char32_t> kept;
    for (std::size_t i = 0; i < n_parts; ++i) {
      if (!(unicode::flags(parts[i]) & unicode::kStripDrop)) kept.push_back(parts[i]);
    }
    if (kept != std::vector<char32_t>(expected.begin(), expected.begin() + n_expected)) {
      ADD_FAILURE() << "U+" << std::hex << static_cast<std::uint32_t>(cp);
      if (++mismatches > 10) return;
    }
  }
}

}  // namespace
}  // namespace akidb::embed
