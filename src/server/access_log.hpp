#pragma once
// The optional JSON-lines access log (`--access-log PATH|-`): one object per
// answered request, written and flushed when the response is ready:
// {"ts","request_id","method","route","status","inputs","tokens",
//  "queue_ms","total_ms","remote_addr"}.
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "server/http_message.hpp"

namespace akidb::embed::server {

struct AccessRecord {
  const HttpRequest& request;
  const HttpResponse& response;
  const std::string& request_id;
  double total_ms = 0.0;
};

class AccessLog {
 public:
  // "" : off; "-": standard output; otherwise a file opened for appending.
  // Throws Error(InvalidInput) when the file cannot be opened.
  explicit AccessLog(const std::string& target);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  bool enabled() const { return out_ != nullptr; }
  void write(const AccessRecord& record);

 private:
  // Invariant: `out_` is set once by the constructor and closed by the
  // destructor; in between each line is formatted outside `mutex_` and
  // written and flushed whole under it, so lines never interleave.
  std::mutex mutex_;
  std::FILE* out_ = nullptr;
  bool owned_ = false;
};

// One record as its JSON line (without the newline).
std::string access_line(const AccessRecord& record);

}  // namespace akidb::embed::server
