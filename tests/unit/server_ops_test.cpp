// The transport's operations pieces on their own: request ids, CORS headers,
// the access-log line and the log-format flag.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>

#include "server/access_log.hpp"
#include "server/cors.hpp"
#include "server/request_id.hpp"
#include "server/server_log.hpp"

namespace akidb::embed::server {
namespace {

HttpRequest request(std::string method, Headers headers) {
  HttpRequest req;
  req.method = std::move(method);
  req.path = "/v1/embeddings";
  req.headers = std::move(headers);
  req.remote_addr = "10.0.0.7";
  return req;
}

TEST(ServerOpsRequestId, EchoesPrintableIdsAndGeneratesOtherwise) {
  RequestIds ids;
  EXPECT_EQ(ids.for_request("abc-123_x.y:z"), "abc-123_x.y:z");
  std::set<std::string> made;
  for (const auto* given : {"", "has space", "tab\there", "\x7f"}) {
    const auto id = ids.for_request(given);
    EXPECT_EQ(id.size(), 32U) << given;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    made.insert(id);
  }
  EXPECT_EQ(made.size(), 4U);
  EXPECT_TRUE(acceptable_request_id(std::string(128, 'a')));
  EXPECT_FALSE(acceptable_request_id(std::string(129, 'a')));
}

TEST(ServerOpsCors, OffAddsNothing) {
  const Cors cors("");
  auto req = request("OPTIONS",
                     {{"Origin", "https://a.example"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_FALSE(cors.is_preflight(req));
  HttpResponse res;
  cors.decorate(req, res);
  EXPECT_TRUE(res.headers.empty());
}

TEST(ServerOpsCors, ExactOriginPreflightAndResponse) {
  const Cors cors("https://a.example");
  auto pre = request("OPTIONS",
                     {{"origin", "https://a.example"}, {"access-control-request-method", "POST"}});
  ASSERT_TRUE(cors.is_preflight(pre));
  auto res = cors.preflight(pre);
  cors.decorate(pre, res);
  EXPECT_EQ(res.status, 204);
  EXPECT_EQ(res.body, "");
  HttpRequest view;
  view.headers = res.headers;
  EXPECT_EQ(view.header("Access-Control-Allow-Origin"), "https://a.example");
  EXPECT_EQ(view.header("Access-Control-Allow-Headers"),
            "Authorization, Content-Type, X-Request-Id");
  EXPECT_EQ(view.header("Vary"), "Origin");

  HttpResponse other;
  cors.decorate(request("POST", {{"Origin", "https://b.example"}}), other);
  EXPECT_TRUE(other.headers.empty());
  EXPECT_FALSE(cors.is_preflight(request("OPTIONS", {{"Origin", "https://a.example"}})));
}

TEST(ServerOpsAccessLog, LineHasEveryFieldInOrder) {
  auto req = request("POST", {});
  req.path = "/embed\"\n";  // escaped, not breaking the line
  HttpResponse res;
  res.status = 200;
  res.stats = {3, 17, 0.25};
  const std::string id = "rid";
  const auto line = access_line({req, res, id, 4.5});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto j = nlohmann::ordered_json::parse(line);
  std::string keys;
  for (const auto& [key, value] : j.items()) keys += key + ",";
  EXPECT_EQ(keys, "ts,request_id,method,route,status,inputs,tokens,queue_ms,total_ms,remote_addr,");
  EXPECT_EQ(j["route"], "/embed\"\n");
  EXPECT_EQ(j["inputs"], 3);
  EXPECT_EQ(j["tokens"], 17);
  EXPECT_DOUBLE_EQ(j["queue_ms"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(j["total_ms"].get<double>(), 4.5);
  EXPECT_EQ(j["remote_addr"], "10.0.0.7");
}

TEST(ServerOpsLog, FormatNames) {
  EXPECT_EQ(parse_log_format("text"), LogFormat::Text);
  EXPECT_EQ(parse_log_format("json"), LogFormat::Json);
  try {
    parse_log_format("xml");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "log format must be 'text' or 'json', not 'xml'");
  }
}

}  // namespace
}  // namespace akidb::embed::server
