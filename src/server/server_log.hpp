#pragma once
// The server's own log lines (start, stop, transport trouble), as plain text
// ("akidb-embed: message") or one JSON object per line (`--log-format json`:
// {"ts": ISO-8601 UTC, "level": ..., "msg": ..., extra fields}).
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace akidb::embed::server {

enum class LogFormat { Text, Json };

// "text" or "json"; throws std::invalid_argument otherwise.
LogFormat parse_log_format(std::string_view name);

// The current time as "2026-11-29T10:00:00.123Z".
std::string utc_timestamp();

class ServerLog {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  explicit ServerLog(LogFormat format = LogFormat::Text) : format_(format) {}

  // One line on `out` (stderr unless told), flushed. Thread-safe.
  void write(std::string_view level, std::string_view message, const Fields& fields = {},
             std::FILE* out = stderr) const;
  void info(std::string_view message, const Fields& fields = {}) const {
    write("info", message, fields);
  }
  void error(std::string_view message, const Fields& fields = {}) const {
    write("error", message, fields);
  }

 private:
  LogFormat format_;
  // Invariant: a line is formatted outside the lock and written and flushed
  // whole under it, so lines from concurrent threads never interleave.
  mutable std::mutex mutex_;
};

}  // namespace akidb::embed::server
