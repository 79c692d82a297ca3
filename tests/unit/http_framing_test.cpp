// The request framing check (RFC 9112 §6.1, §6.3) in front of Beast's parser:
// what is accepted, what is refused with which status and why.
#include "server/http_framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace akidb::embed::server {
namespace {

using Fields = std::vector<std::string_view>;

FramingVerdict check(Fields te, Fields cl = {}, unsigned version = 11) {
  return check_request_framing(te, cl, version);
}

TEST(HttpFraming, AcceptsChunkedAloneAndOneContentLength) {
  EXPECT_FALSE(check({}));
  EXPECT_FALSE(check({"chunked"}));
  EXPECT_FALSE(check({"Chunked"}));
  EXPECT_FALSE(check({" chunked\t"}));
  EXPECT_FALSE(check({"chunked, "}));  // empty list elements are ignored (RFC 9110 §5.6.1)
  EXPECT_FALSE(check({}, {"0"}));
  EXPECT_FALSE(check({}, {"4194304"}));
  EXPECT_FALSE(check({}, {"12"}, 10));
}

TEST(HttpFraming, FinalCodingNotChunkedIs400) {
  for (const std::string_view te : {"xchunked", "gzip", "chunked, gzip", "chunkedx", "identity"}) {
    const auto v = check({te});
    EXPECT_EQ(v.status, 400) << te;
    EXPECT_EQ(v.reason, "Transfer-Encoding '" + std::string(te) +
                            "': the final transfer coding must be chunked")
        << te;
  }
  // The same with a Content-Length beside it: refused for the pair first.
  const auto both = check({"xchunked"}, {"5"});
  EXPECT_EQ(both.status, 400);
  EXPECT_EQ(both.reason, "Transfer-Encoding and Content-Length together: send one of them");
  // Split over two field lines, the list is their concatenation.
  const auto split = check({"chunked", "gzip"});
  EXPECT_EQ(split.status, 400);
  EXPECT_EQ(split.reason,
            "Transfer-Encoding 'chunked, gzip': the final transfer coding must be chunked");
}

TEST(HttpFraming, EmptyMalformedOrRepeatedChunkedIs400) {
  EXPECT_EQ(check({""}).reason, "Transfer-Encoding is empty");
  EXPECT_EQ(check({" , ,"}).reason, "Transfer-Encoding is empty");
  EXPECT_EQ(check({"chu nked"}).reason,
            "Transfer-Encoding 'chu nked' is not a list of transfer codings");
  EXPECT_EQ(check({"\"chunked\""}).status, 400);
  EXPECT_EQ(check({"chunked;q=1"}).reason,
            "Transfer-Encoding 'chunked;q=1': the final transfer coding must be chunked");
  EXPECT_EQ(check({"chunked, chunked"}).reason,
            "Transfer-Encoding 'chunked, chunked': chunked may be applied only once");
  EXPECT_EQ(check({"chunked", "chunked"}).status, 400);
  // Non-ASCII bytes are shown escaped so the JSON body stays valid UTF-8.
  EXPECT_EQ(check({"\xff"}).reason, "Transfer-Encoding '\\xff' is not a list of transfer codings");
}

TEST(HttpFraming, TransferEncodingWithContentLengthOrInHttp10Is400) {
  EXPECT_EQ(check({"chunked"}, {"5"}).reason,
            "Transfer-Encoding and Content-Length together: send one of them");
  const auto old = check({"chunked"}, {}, 10);
  EXPECT_EQ(old.status, 400);
  EXPECT_EQ(old.reason, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
}

TEST(HttpFraming, OtherCodingsBeforeChunkedAre501) {
  const auto v = check({"gzip, chunked"});
  EXPECT_EQ(v.status, 501);
  EXPECT_EQ(v.reason,
            "Transfer-Encoding 'gzip, chunked': transfer coding 'gzip' is not supported "
            "(only chunked is)");
  EXPECT_EQ(check({"gzip", "chunked"}).status, 501);
}

TEST(HttpFraming, DuplicateOrNonDecimalContentLengthIs400) {
  EXPECT_EQ(check({}, {"5", "5"}).reason, "Content-Length is given more than once");
  EXPECT_EQ(check({}, {"5", "6"}).status, 400);
  EXPECT_EQ(check({}, {"5, 5"}).reason, "Content-Length '5, 5' is not a decimal number");
  EXPECT_EQ(check({}, {"+5"}).status, 400);
  EXPECT_EQ(check({}, {"-1"}).status, 400);
  EXPECT_EQ(check({}, {"0x10"}).status, 400);
  EXPECT_EQ(check({}, {""}).reason, "Content-Length '' is not a decimal number");
}

}  // namespace
}  // namespace akidb::embed::server
