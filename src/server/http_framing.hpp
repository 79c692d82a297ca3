#pragma once
// How a request's body is framed (RFC 9112 §6.1, §6.3), decided from its
// headers before any of the body is read. Beast's parser frames the body;
// this is the stricter check in front of it, because a proxy in front of us
// that frames a request differently from us is a smuggling channel:
//
//   Transfer-Encoding whose final coding is not `chunked`
//     (`xchunked`, `gzip`, `chunked, gzip`, empty, malformed)   -> 400, close
//   `chunked` twice, or with parameters                          -> 400, close
//   Transfer-Encoding in an HTTP/1.0 request                     -> 400, close
//   Transfer-Encoding and Content-Length together                -> 400, close
//     (RFC 9112 §6.3 lets a server reject it; we do rather than
//      guess which of the two a proxy in front used)
//   other codings before a final `chunked` (`gzip, chunked`)     -> 501, close
//   Content-Length in more than one field, a list, or not digits -> 400, close
#include <span>
#include <string>
#include <string_view>

namespace akidb::embed::server {

struct FramingVerdict {
  int status = 0;      // 0: the framing is acceptable; else 400 or 501
  std::string reason;  // for the error message, e.g. "Transfer-Encoding 'xchunked' ..."

  explicit operator bool() const noexcept { return status != 0; }
};

// `transfer_encoding` and `content_length`: every field line of that name,
// in order; `version`: 10 or 11.
FramingVerdict check_request_framing(std::span<const std::string_view> transfer_encoding,
                                     std::span<const std::string_view> content_length,
                                     unsigned version);

}  // namespace akidb::embed::server
