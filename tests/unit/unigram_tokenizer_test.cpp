// Unigram (SentencePiece) tokenizer unit tests: the charsmap lookup, Viterbi on
// a hand-made vocabulary, unknown fusion, byte fallback, Metaspace and load
// errors. Expected ids and offsets were produced by HF tokenizers 0.22.1 (the
// parity suite in tests/e2e compares far more).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "akidb/embed/error.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "test_support.hpp"
#include "tokenizer/base64.hpp"
#include "tokenizer/precompiled_charsmap.hpp"

namespace akidb::embed {
namespace {

using nlohmann::json;
using Ids = std::vector<std::int32_t>;
using Offsets = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

std::filesystem::path fixture() {
  return test::test_data() / "tokenizers" / "unigram_xlmr_like.json";
}

json read_fixture() {
  std::ifstream in(fixture());
  return json::parse(in);
}

// A hand-made double array holding one key, "a" -> "X": the root's children
// start at 0 ^ 1; 'a' sits at 1 ^ 0x61 = 96 with a leaf at 96 ^ 1 = 97.
std::string tiny_charsmap() {
  std::vector<std::uint32_t> units(98, 0);
  units[0] = 1u << 10;
  units[96] = (1u << 10) | (1u << 8) | 0x61;
  units[97] = (1u << 31) | 0;  // value: offset 0 in the strings
  std::string bytes;
  const auto put = [&bytes](std::uint32_t v) {
    for (int k = 0; k < 4; ++k) bytes.push_back(static_cast<char>((v >> (8 * k)) & 0xFF));
  };
  put(static_cast<std::uint32_t>(units.size() * 4));
  for (const auto u : units) put(u);
  bytes += std::string("X\0", 2);
  return bytes;
}

void expect_model_error(const std::function<void()>& load, const std::string& fragment) {
  try {
    load();
    FAIL() << "expected ModelError containing " << fragment;
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::ModelError);
    EXPECT_NE(std::string(err.what()).find(fragment), std::string::npos) << err.what();
  }
}

TEST(Base64, DecodesAndRejects) {
  EXPECT_EQ(decode_base64("aGVsbG8="), "hello");
  EXPECT_EQ(decode_base64("aGk="), "hi");
  EXPECT_EQ(decode_base64(""), "");
  EXPECT_FALSE(decode_base64("aGk"));   // not a multiple of 4
  EXPECT_FALSE(decode_base64("a@k="));  // not in the alphabet
  EXPECT_FALSE(decode_base64("aGl="));  // non-canonical tail bits
}

TEST(PrecompiledCharsmap, HandMadeTrie) {
  const auto map = PrecompiledCharsmap::from_bytes(tiny_charsmap(), "tiny");
  EXPECT_EQ(map.transform("a"), "X");
  EXPECT_EQ(map.transform("ab"), "X");  // a prefix match is enough
  EXPECT_FALSE(map.transform("b"));
  EXPECT_FALSE(map.transform(""));
}

TEST(PrecompiledCharsmap, NmtNfkcMapOfTheFixture) {
  const json spec = read_fixture();
  const auto map = PrecompiledCharsmap::from_base64(
      spec["normalizer"]["normalizers"][0]["precompiled_charsmap"].get<std::string>(), "fixture");
  EXPECT_EQ(map.transform("\uFB01"), "fi");       // ligature
  EXPECT_EQ(map.transform("\uFF21"), "A");        // fullwidth
  EXPECT_EQ(map.transform("\uFF21\u0301"), "A");  // shortest prefix wins, mark lost
  EXPECT_EQ(map.transform("\u2460"), "1");        // circled digit
  EXPECT_EQ(map.transform("\u3000"), " ");        // ideographic space
  EXPECT_FALSE(map.transform("a"));
  EXPECT_FALSE(map.transform("\u00e9"));
}

TEST(PrecompiledCharsmap, CorruptMapsAreModelErrors) {
  expect_model_error([] { PrecompiledCharsmap::from_base64("@@@@", "f.json"); }, "invalid base64");
  expect_model_error([] { PrecompiledCharsmap::from_bytes("ab", "f.json"); }, "4-byte header");
  std::string big = tiny_charsmap();
  big[1] = 0x7F;  // trie size far past the blob
  expect_model_error([&] { PrecompiledCharsmap::from_bytes(big, "f.json"); }, "does not fit");
  std::string bad_value = tiny_charsmap();
  bad_value[4 + 97 * 4] = 0x40;  // leaf value 64, past the 2-byte strings
  expect_model_error([&] { PrecompiledCharsmap::from_bytes(bad_value, "f.json"); },
                     "points outside the map");
  std::string bad_utf8 = tiny_charsmap();
  bad_utf8[bad_utf8.size() - 2] = '\xC3';  // "X" becomes a truncated 2-byte sequence
  expect_model_error([&] { PrecompiledCharsmap::from_bytes(bad_utf8, "f.json"); },
                     "is not valid UTF-8");
}

json tiny_spec() {
  return json{{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", json::array()},
              {"normalizer", nullptr},
              {"pre_tokenizer", nullptr},
              {"post_processor", nullptr},
              {"decoder", nullptr},
              {"model",
               {{"type", "Unigram"},
                {"unk_id", 0},
                {"byte_fallback", false},
                {"vocab", json::parse(R"([["<unk>",0],["a",-1],["b",-1],["ab",-2],["c",-3],
                    ["\u2581",-1],["\u2581a",-0.5],["<s>",0],["</s>",0]])")}}}};
}

Encoding encode(const json& spec, std::string_view text) {
  return Tokenizer::from_json(spec.dump(), "tiny.json").encode(text, EncodeOptions{0, true, true});
}

TEST(UnigramTokenizer, ViterbiPicksTheBestPathAndShorterOnTies) {
  const json spec = tiny_spec();
  EXPECT_EQ(encode(spec, "ab").ids, (Ids{3}));  // "ab" (-2) ties "a"+"b" (-2): found first
  EXPECT_EQ(encode(spec, "abc").ids, (Ids{3, 4}));
  EXPECT_EQ(encode(spec, "cab").ids, (Ids{4, 3}));
  EXPECT_EQ(encode(spec, "cab").offsets, (Offsets{{0, 1}, {1, 3}}));
}

TEST(UnigramTokenizer, ConsecutiveUnknownCharactersFuse) {
  const json spec = tiny_spec();
  EXPECT_EQ(encode(spec, "xyz").ids, (Ids{0}));
  EXPECT_EQ(encode(spec, "xyz").offsets, (Offsets{{0, 3}}));
  EXPECT_EQ(encode(spec, "axyb").ids, (Ids{1, 0, 2}));
  const Encoding e = encode(spec, "a\u2603b c");  // the space is unknown too (no Metaspace)
  EXPECT_EQ(e.ids, (Ids{1, 0, 2, 0, 4}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 1}, {1, 4}, {4, 5}, {5, 6}, {6, 7}}));
  // The piece "<unk>" has the unk id, so it fuses with the unknown 'x' after it.
  EXPECT_EQ(encode(spec, "<unk>x").ids, (Ids{0}));
  EXPECT_EQ(encode(spec, "<unk>x").offsets, (Offsets{{0, 6}}));
}

TEST(UnigramTokenizer, ByteFallbackNeedsEveryByte) {
  json spec = tiny_spec();
  spec["model"]["byte_fallback"] = true;
  spec["model"]["vocab"].push_back({"<0x78>", -5});
  spec["model"]["vocab"].push_back({"<0x79>", -5});
  const Encoding e = encode(spec, "axyb");
  EXPECT_EQ(e.ids, (Ids{1, 9, 10, 2}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 1}, {1, 3}, {1, 3}, {3, 4}}));
  EXPECT_EQ(encode(spec, "axzb").ids, (Ids{1, 0, 2}));  // no <0x7A>: unk
}

TEST(UnigramTokenizer, MetaspaceStripReplaceAndTemplate) {
  json spec = tiny_spec();
  spec["pre_tokenizer"] = {{"type", "Metaspace"},
                           {"replacement", "\u2581"},
                           {"prepend_scheme", "always"},
                           {"split", true}};
  spec["normalizer"] = json::parse(R"({"type":"Sequence","normalizers":[
      {"type":"Strip","strip_left":false,"strip_right":true},
      {"type":"Replace","pattern":{"Regex":" {2,}"},"content":"\u2581"}]})");
  spec["post_processor"] = json::parse(R"({"type":"TemplateProcessing",
      "single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},
                {"SpecialToken":{"id":"</s>","type_id":0}}],"pair":[],
      "special_tokens":{"<s>":{"id":"<s>","ids":[7],"tokens":["<s>"]},
                        "</s>":{"id":"</s>","ids":[8],"tokens":["</s>"]}}})");
  const Tokenizer tok = Tokenizer::from_json(spec.dump(), "tiny.json");
  EXPECT_EQ(tok.cls_id(), 7);
  EXPECT_EQ(tok.sep_id(), 8);
  const EncodeOptions with_offsets{0, true, true};
  EXPECT_EQ(tok.encode("a b", with_offsets).ids, (Ids{7, 6, 5, 2, 8}));
  EXPECT_EQ(tok.encode("a b", with_offsets).offsets,
            (Offsets{{0, 0}, {0, 1}, {1, 2}, {2, 3}, {0, 0}}));
  EXPECT_EQ(tok.encode("ab  c ", with_offsets).ids, (Ids{7, 6, 2, 5, 4, 8}));
  EXPECT_EQ(tok.encode("ab  c ", with_offsets).offsets,
            (Offsets{{0, 0}, {0, 1}, {1, 2}, {3, 4}, {4, 5}, {0, 0}}));
  EXPECT_EQ(tok.encode("  a", with_offsets).offsets, (Offsets{{0, 0}, {1, 3}, {0, 0}}));
  const Encoding cut = tok.encode("ab  c ", EncodeOptions{4, true, false});
  EXPECT_EQ(cut.ids, (Ids{7, 6, 2, 8}));
  EXPECT_EQ(cut.tokens_before_truncation, 6u);
}

TEST(UnigramTokenizer, FixtureKnownIds) {
  const Tokenizer tok = Tokenizer::from_file(fixture());
  EXPECT_EQ(tok.vocab_size(), 8002u);
  EXPECT_EQ(tok.cls_id(), 0);
  EXPECT_EQ(tok.sep_id(), 2);
  EXPECT_EQ(tok.pad_id(), 1);
  EXPECT_EQ(tok.unk_id(), 3);
  EXPECT_EQ(tok.id_to_token(3), "<unk>");
  const Encoding e = tok.encode("Hello world", EncodeOptions{0, true, true});
  EXPECT_EQ(e.ids, (Ids{0, 620, 374, 30, 3214, 2}));
  EXPECT_EQ(e.offsets, (Offsets{{0, 0}, {0, 2}, {2, 4}, {4, 5}, {5, 11}, {0, 0}}));
  // nmt_nfkc: the ligature expands, the fullwidth A absorbs its combining mark.
  EXPECT_EQ(tok.encode("\uFB01ne \uFF21\u0301 x").ids, (Ids{0, 1723, 11, 18, 4, 628, 2}));
  EXPECT_EQ(tok.encode("Ein <s>x</s>").ids, (Ids{0, 72, 0, 4, 628, 2, 2}));
}

TEST(UnigramTokenizer, AddedTokenLstripRstripTakeTheWhitespace) {
  json spec = read_fixture();
  for (auto& token : spec["added_tokens"]) {
    token["lstrip"] = token["content"] == "<mask>";
    token["rstrip"] = token["content"] == "</s>";
  }
  const Tokenizer tok = Tokenizer::from_json(spec.dump(), "lstrip.json");
  const EncodeOptions with_offsets{0, true, true};
  EXPECT_EQ(tok.encode("a <mask> b", with_offsets).ids, (Ids{0, 9, 8001, 216, 2}));
  EXPECT_EQ(tok.encode("a <mask> b", with_offsets).offsets,
            (Offsets{{0, 0}, {0, 1}, {1, 8}, {8, 10}, {0, 0}}));
  EXPECT_EQ(tok.encode("x</s>  y", with_offsets).ids, (Ids{0, 4, 628, 2, 80, 2}));
  EXPECT_EQ(tok.encode("x</s>  y", with_offsets).offsets,
            (Offsets{{0, 0}, {0, 1}, {0, 1}, {1, 7}, {7, 8}, {0, 0}}));
}

TEST(UnigramTokenizer, NfkcComposesWithHfAlignments) {
  json spec = read_fixture();
  spec["normalizer"]["normalizers"][0] = json{{"type", "NFKC"}};
  const Tokenizer tok = Tokenizer::from_json(spec.dump(), "nfkc.json");
  const EncodeOptions with_offsets{0, true, true};
  // The fullwidth A and its mark compose to Á, aligned with the A alone.
  const Encoding a = tok.encode("\uFB01ne \uFF21\u0301 x", with_offsets);
  EXPECT_EQ(a.ids, (Ids{0, 1723, 11, 4, 7811, 4, 628, 2}));
  EXPECT_EQ(a.offsets,
            (Offsets{{0, 0}, {0, 4}, {4, 5}, {5, 6}, {6, 9}, {11, 12}, {12, 13}, {0, 0}}));
  // Marks are reordered (dot below first) before composing.
  const Encoding b = tok.encode("e\u0301\u0323 \u1E9B\u0323", with_offsets);
  EXPECT_EQ(b.ids, (Ids{0, 4, 3, 4, 3, 2}));
  EXPECT_EQ(b.offsets, (Offsets{{0, 0}, {0, 1}, {0, 5}, {5, 6}, {6, 9}, {0, 0}}));
  // U+11A7 is not a trailing consonant: utf8proc would fold it into the LV
  // syllable and drop it; HF keeps it (the unknown run covers all three).
  const Encoding c = tok.encode("\uAC38\u11A7\u11B2 x", with_offsets);
  EXPECT_EQ(c.ids, (Ids{0, 4, 3, 4, 628, 2}));
  EXPECT_EQ(c.offsets, (Offsets{{0, 0}, {0, 3}, {0, 9}, {9, 10}, {10, 11}, {0, 0}}));
}

TEST(UnigramTokenizer, MissingUnkIdFailsOnUnknownInput) {
  json spec = tiny_spec();
  spec["model"]["unk_id"] = nullptr;
  const Tokenizer tok = Tokenizer::from_json(spec.dump(), "tiny.json");
  EXPECT_EQ(tok.encode("ab").ids, (Ids{3}));
  try {
    tok.encode("x");
    FAIL() << "expected InvalidInput";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), ErrorCode::InvalidInput);
  }
}

void expect_spec_error(const json& spec, const std::string& fragment) {
  expect_model_error([&] { Tokenizer::from_json(spec.dump(), "/m/tokenizer.json"); }, fragment);
  expect_model_error([&] { Tokenizer::from_json(spec.dump(), "/m/tokenizer.json"); },
                     "/m/tokenizer.json");
}

TEST(UnigramTokenizer, BadTokenizerJsonNamesFileAndField) {
  json spec = tiny_spec();
  spec["model"]["vocab"] = json::object();
  expect_spec_error(spec, "model.vocab: expected an array");
  spec["model"]["vocab"] = json::array();
  expect_spec_error(spec, "model.vocab: the Unigram vocabulary is empty");
  spec = tiny_spec();
  spec["model"]["vocab"][2] = {"b"};
  expect_spec_error(spec, "model.vocab[2]: expected [piece, score]");
  spec = tiny_spec();
  spec["model"]["vocab"][2] = {"b", "high"};
  expect_spec_error(spec, "model.vocab[2]");
  spec = tiny_spec();
  spec["model"]["unk_id"] = 9;
  expect_spec_error(spec, "model.unk_id 9 is not an index");
  spec = tiny_spec();
  spec["model"]["byte_fallback"] = "yes";
  expect_spec_error(spec, "model.byte_fallback");
  spec = tiny_spec();
  spec["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "!!!!"}};
  expect_spec_error(spec, "precompiled_charsmap: invalid base64");
  spec = tiny_spec();
  spec["normalizer"] = {{"type", "Replace"}, {"pattern", {{"Regex", "[ab]+"}}}, {"content", ""}};
  expect_spec_error(spec, "unsupported regex '[ab]+'");
  spec = tiny_spec();
  spec["normalizer"] = {{"type", "BertNormalizer"}};
  expect_spec_error(spec, "unsupported normalizer 'BertNormalizer' for Unigram");
  spec = tiny_spec();
  spec["pre_tokenizer"] = {{"type", "Metaspace"}, {"prepend_scheme", "sometimes"}};
  expect_spec_error(spec, "unknown prepend_scheme 'sometimes'");
  spec = tiny_spec();
  spec["pre_tokenizer"] = {{"type", "ByteLevel"}};
  expect_spec_error(spec, "unsupported pre_tokenizer 'ByteLevel' for Unigram");
}

}  // namespace
}  // namespace akidb::embed
