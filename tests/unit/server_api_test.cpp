// The server's request parsing (strict types, limits, UTF-8), response
// writing (base64, dimensions, escaping), auth comparison and metrics text.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/printable.hpp"
#include "server/api_error.hpp"
#include "server/api_request.hpp"
#include "server/api_response.hpp"
#include "server/http_server.hpp"
#include "server/metrics.hpp"

namespace akidb::embed::server {
namespace {

const RequestLimits kLimits{4, 10};

int status_of(const std::string& body) {
  try {
    parse_openai_request(body, kLimits, 384);
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

std::string message_of(const std::string& body) {
  try {
    parse_openai_request(body, kLimits, 384);
  } catch (const ApiError& e) {
    return e.message();
  }
  return {};
}

TEST(ServerParse, AcceptsEveryInputForm) {
  auto one = parse_openai_request(R"({"input":"hi","model":"m"})", kLimits, 384);
  EXPECT_EQ(std::get<std::vector<std::string>>(one.request.inputs).size(), 1U);
  EXPECT_EQ(one.model, "m");
  auto many =
      parse_openai_request(R"({"input":["a","b"],"encoding_format":"base64"})", kLimits, 384);
  EXPECT_EQ(many.request.size(), 2U);
  EXPECT_TRUE(many.base64);
  auto ids = parse_openai_request(R"({"input":[1,2,3]})", kLimits, 384);
  EXPECT_EQ(std::get<std::vector<TokenIds>>(ids.request.inputs).at(0).size(), 3U);
  auto lists = parse_openai_request(R"({"input":[[1],[2,3]],"dimensions":8})", kLimits, 384);
  EXPECT_EQ(lists.request.size(), 2U);
  EXPECT_EQ(lists.dimensions, 8U);
  // JSON Schema's integers include numbers without a fraction (3.0).
  auto whole = parse_openai_request(R"({"input":[7.0,2],"dimensions":8.0})", kLimits, 384);
  EXPECT_EQ(std::get<std::vector<TokenIds>>(whole.request.inputs).at(0), (TokenIds{7, 2}));
  EXPECT_EQ(whole.dimensions, 8U);
}

TEST(ServerParse, RejectsWrongTypesAndMalformedJson) {
  EXPECT_EQ(status_of(R"({"input":5})"), 400);
  EXPECT_EQ(status_of(R"({"input":[1.5]})"), 400);
  EXPECT_EQ(status_of(R"({"input":[{"a":1}]})"), 400);
  EXPECT_EQ(status_of(R"({"input":{"text":"x"}})"), 400);
  EXPECT_EQ(status_of(R"({"input":["a",1]})"), 400);
  EXPECT_EQ(status_of(R"({"input":[[1],"a"]})"), 400);
  EXPECT_EQ(status_of(R"({"input":"a","model":7})"), 400);
  EXPECT_EQ(status_of(R"({"input":"a")"), 400);
  EXPECT_EQ(status_of(R"([1,2])"), 400);
  EXPECT_EQ(status_of(""), 400);
  EXPECT_EQ(status_of(R"({"model":"m"})"), 400);
  EXPECT_EQ(status_of(R"({"input":"a","encoding_format":"int8"})"), 400);
  EXPECT_NE(message_of(R"({"input":5})").find("must be a string"), std::string::npos);
}

TEST(ServerParse, RejectsUnacceptableValues) {
  EXPECT_EQ(status_of(R"({"input":[]})"), 422);
  EXPECT_EQ(status_of(R"({"input":["a","b","c","d","e"]})"), 422);  // > 4 inputs
  EXPECT_EQ(status_of(R"({"input":"01234567890"})"), 422);          // > 10 chars
  EXPECT_EQ(status_of(R"({"input":"a","dimensions":0})"), 422);
  EXPECT_EQ(status_of(R"({"input":"a","dimensions":385})"), 422);
  EXPECT_EQ(status_of(R"({"input":"a","dimensions":-3})"), 422);
  EXPECT_EQ(status_of(R"({"input":[[]]})"), 422);
  EXPECT_EQ(status_of(R"({"input":[99999999999]})"), 422);
  // Ten code points of multi-byte text are within the limit.
  EXPECT_EQ(status_of("{\"input\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}"), 200);
}

TEST(ServerParse, InvalidUtf8IsNamed) {
  const std::string body = "{\"input\":\"bad \xff\xfe byte\"}";
  EXPECT_EQ(status_of(body), 400);
  EXPECT_NE(message_of(body).find("UTF-8"), std::string::npos);
  EXPECT_EQ(status_of(R"({"input":"\ud800"})"), 400);  // lone surrogate escape
}

template <typename F>
std::pair<int, std::string> error_of(F&& parse) {
  try {
    parse();
  } catch (const ApiError& e) {
    return {e.status(), e.what()};
  }
  return {200, {}};
}

TEST(ServerParse, TeiEmbed) {
  auto tei = parse_tei_request(
      R"({"inputs":["a"],"normalize":false,"truncate":false,"truncation_direction":"Left",)"
      R"("dimensions":8,"prompt_name":"query"})",
      kLimits, 384);
  EXPECT_EQ(tei.request.normalize, false);
  EXPECT_FALSE(tei.request.truncate);
  EXPECT_EQ(tei.request.truncation_direction, TruncationDirection::Left);
  EXPECT_EQ(tei.request.dimensions, 8U);
  EXPECT_EQ(tei.request.prompt_name, "query");
  auto defaults = parse_tei_request(
      R"({"inputs":"a","truncate":null,"dimensions":null,"prompt_name":null})", kLimits, 384);
  EXPECT_EQ(defaults.request.normalize, true);
  EXPECT_TRUE(defaults.request.truncate);
  EXPECT_EQ(defaults.request.truncation_direction, TruncationDirection::Right);
  EXPECT_EQ(defaults.request.dimensions, 0U);
  EXPECT_FALSE(defaults.request.prompt_name);
  const auto bad_dir = error_of(
      [] { parse_tei_request(R"({"inputs":"a","truncation_direction":"Up"})", kLimits, 384); });
  EXPECT_EQ(bad_dir.first, 422);
  EXPECT_NE(bad_dir.second.find("\"Left\" or \"Right\""), std::string::npos);
  EXPECT_EQ(error_of([] {
              parse_tei_request(R"({"inputs":"a","normalize":"yes"})", kLimits, 384);
            }).first,
            400);
  EXPECT_EQ(
      error_of([] { parse_tei_request(R"({"inputs":"a","dimensions":385})", kLimits, 384); }).first,
      422);
  EXPECT_EQ(
      error_of([] { parse_tei_request(R"({"inputs":"a","prompt_name":3})", kLimits, 384); }).first,
      400);
}

TEST(ServerParse, SimilarityTokenizeDecode) {
  auto sim = parse_similarity_request(
      R"({"inputs":{"source_sentence":"s","sentences":["a","b"]},"parameters":{"truncate":false}})",
      kLimits);
  EXPECT_EQ(std::get<std::vector<std::string>>(sim.request.inputs),
            (std::vector<std::string>{"s", "a", "b"}));
  EXPECT_FALSE(sim.request.truncate);
  EXPECT_EQ(sim.request.normalize, true);
  EXPECT_EQ(
      error_of([] { parse_similarity_request(R"({"inputs":{"sentences":[]}})", kLimits); }).second,
      "'inputs.source_sentence' is required");
  EXPECT_EQ(error_of([] {
              parse_similarity_request(
                  R"({"inputs":{"source_sentence":"s","sentences":["a","b","c","d"]}})", kLimits);
            }).first,
            422);  // 5 inputs > 4
  auto tok = parse_tokenize_request(R"({"inputs":"a b","add_special_tokens":false})", kLimits);
  EXPECT_FALSE(tok.add_special_tokens);
  EXPECT_FALSE(tok.truncate);
  EXPECT_EQ(tok.inputs.size(), 1U);
  EXPECT_EQ(error_of([] { parse_tokenize_request(R"({"inputs":[1,2]})", kLimits); }).first, 400);
  auto one = parse_decode_request(R"({"ids":[101,102]})", kLimits);
  EXPECT_EQ(one.ids, (std::vector<TokenIds>{{101, 102}}));
  EXPECT_TRUE(one.skip_special_tokens);
  auto many = parse_decode_request(R"({"ids":[[1],[]],"skip_special_tokens":false})", kLimits);
  EXPECT_EQ(many.ids, (std::vector<TokenIds>{{1}, {}}));
  EXPECT_FALSE(many.skip_special_tokens);
  EXPECT_EQ(error_of([] { parse_decode_request(R"({"ids":[]})", kLimits); }).second,
            "'ids' is an empty list: send at least one input");
  EXPECT_EQ(error_of([] { parse_decode_request(R"({"ids":["a"]})", kLimits); }).first, 400);
}

TEST(ServerErrors, TeiStatusesAndBodies) {
  const auto tei = [](const ApiError& e) {
    const auto t = to_tei_error(e);
    return std::to_string(t.status) + " " + std::string(t.error_type);
  };
  EXPECT_EQ(tei(unprocessable("x", "empty_input")), "400 empty");
  EXPECT_EQ(tei(unprocessable("x", "too_many_inputs")), "413 validation");
  EXPECT_EQ(tei(to_api_error(invalid_input(0, "too many tokens"))), "422 tokenizer");
  EXPECT_EQ(tei(to_api_error(Error(ErrorCode::ModelError, "engine failed"))), "424 backend");
  EXPECT_EQ(tei(to_api_error(Error(ErrorCode::Unavailable, "the request queue is full (2)"))),
            "429 overloaded");
  EXPECT_EQ(tei(to_api_error(Error(ErrorCode::Unavailable, "the server is shutting down"))),
            "503 unhealthy");
  EXPECT_EQ(tei(to_api_error(Error(ErrorCode::Timeout, "late"))), "504 overloaded");
  EXPECT_EQ(tei(bad_request("malformed JSON")), "400 validation");
  EXPECT_EQ(tei_error_body(bad_request("a\"b"), "validation"),
            R"({"error":"a\"b","error_type":"validation"})");
}

TEST(ServerResponse, Base64IsLittleEndianFloat32) {
  const float values[] = {1.0F, -2.5F};
  // 1.0f = 00 00 80 3f, -2.5f = 00 00 20 c0
  EXPECT_EQ(base64_floats(values), "AACAPwAAIMA=");
}

TEST(ServerResponse, OpenAiShapeAndEscaping) {
  Embeddings e(2, 2);
  e.row(1)[0] = 0.5F;
  const auto body = openai_response(e, "m\"x", false, 7);
  EXPECT_EQ(body, R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0,0]},)"
                  R"({"object":"embedding","index":1,"embedding":[0.5,0]}],"model":"m\"x",)"
                  R"("usage":{"prompt_tokens":7,"total_tokens":7}})");
  EXPECT_EQ(error_body(bad_request("a\nb")),
            R"({"error":{"message":"a\u000ab","type":"invalid_request_error",)"
            R"("code":"invalid_request","param":null}})");
}

// A NUL (or another control character) in an echoed value is shown as
// \u00XX in the message, and the text after it stays: a raw NUL would end
// the message wherever it passes through a C string (what(), %s).
TEST(ServerErrors, NulInEchoedValuesIsEscapedAndKeepsTheWholeMessage) {
  using namespace std::string_literals;
  EXPECT_EQ(printable("a\0b\n\x1f\x7fé\"\\"s), R"(a\u0000b\u000a\u001f\u007fé"\)");
  EXPECT_EQ(message_of(R"({"input":"a","encoding_format":"fl\u0000oat"})"),
            R"('encoding_format' must be "float" or "base64", not "fl\u0000oat")");
  try {
    parse_tei_request(R"({"inputs":"a","truncation_direction":"Le\u0000ft"})", kLimits, 384);
    ADD_FAILURE() << "accepted";
  } catch (const ApiError& e) {
    EXPECT_EQ(std::string(e.what()), e.message());
    EXPECT_EQ(tei_error_body(e, "validation"),
              R"({"error":"'truncation_direction' must be \"Left\" or \"Right\", not )"
              R"(\"Le\\u0000ft\"","error_type":"validation"})");
  }
  // An ApiError that does hold a NUL keeps all of it in its body.
  EXPECT_EQ(error_body(bad_request("x\0y"s)),
            R"({"error":{"message":"x\u0000y","type":"invalid_request_error",)"
            R"("code":"invalid_request","param":null}})");
}

TEST(ServerAuth, BearerComparison) {
  EXPECT_TRUE(bearer_matches("Bearer secret", "secret"));
  // The scheme is case-insensitive (RFC 9110 §11.1), the key is not.
  EXPECT_TRUE(bearer_matches("bearer secret", "secret"));
  EXPECT_TRUE(bearer_matches("BEARER secret", "secret"));
  EXPECT_TRUE(bearer_matches("bEaReR  secret", "secret"));
  EXPECT_FALSE(bearer_matches("bearer SECRET", "secret"));
  EXPECT_FALSE(bearer_matches("Bearersecret", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer ", "secret"));
  EXPECT_FALSE(bearer_matches("Basic secret", "secret"));
  EXPECT_FALSE(bearer_matches("Bearex secret", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer secreT", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer secret2", "secret"));
  EXPECT_FALSE(bearer_matches("Bearer secre", "secret"));
  EXPECT_FALSE(bearer_matches("secret", "secret"));
  EXPECT_FALSE(bearer_matches("", "secret"));
}

TEST(ServerMetrics, RendersHistogramsAndCountersPerModel) {
  Metrics m;
  m.count_request("/embed", 200);
  m.observe_latency("/embed", 0.002);
  ModelMetrics a;
  a.observe_batch({3, 5, 40, {}});
  a.add_served(5, 40);
  ModelMetrics b;
  b.add_served(1, 7);
  SchedulerCounters counters;
  counters.cancelled_sequences = 17;
  const auto text = m.render({{"m", R"(model="m",engine="onnx")", &a, {2, 9, counters}},
                              {"n\"2", R"(model="n",engine="native")", &b, {}}});
  EXPECT_NE(text.find(R"(akidb_http_requests_total{route="/embed",status="200"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(akidb_batch_size_bucket{model="m",le="4"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_batch_size_bucket{model="m",le="2"} 0)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_queue_depth{model="m"} 2)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_queue_sequences{model="m"} 9)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_sequences_cancelled_total{model="m"} 17)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_info{model="m",engine="onnx"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_info{model="n",engine="native"} 1)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_tokens_total{model="m"} 40)"), std::string::npos);
  // The second model's series, its name escaped as a label value.
  EXPECT_NE(text.find(R"(akidb_tokens_total{model="n\"2"} 7)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_queue_depth{model="n\"2"} 0)"), std::string::npos);
  EXPECT_NE(text.find(R"(akidb_stage_duration_seconds_count{model="n\"2",stage="queue"} 0)"),
            std::string::npos);
  // Each family's header once, whatever the number of models.
  EXPECT_EQ(text.find("# TYPE akidb_tokens_total"), text.rfind("# TYPE akidb_tokens_total"));
}

}  // namespace
}  // namespace akidb::embed::server
