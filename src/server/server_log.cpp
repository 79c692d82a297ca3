#include "server/server_log.hpp"

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace akidb::embed::server {

LogFormat parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::Text;
  if (name == "json") return LogFormat::Json;
  throw std::invalid_argument("log format must be 'text' or 'json', not '" + std::string(name) +
                              "'");
}

std::string utc_timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char text[32];
  const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  char out[40];
  std::snprintf(out, sizeof out, "%.*s.%03dZ", static_cast<int>(n), text, static_cast<int>(millis));
  return out;
}

void ServerLog::write(std::string_view level, std::string_view message, const Fields& fields,
                      std::FILE* out) const {
  std::string line;
  if (format_ == LogFormat::Json) {
    nlohmann::ordered_json j;
    j["ts"] = utc_timestamp();
    j["level"] = level;
    j["msg"] = message;
    for (const auto& [key, value] : fields) j[key] = value;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = "akidb-embed: " + std::string(message);
    for (const auto& [key, value] : fields) line += " " + key + "=" + value;
  }
  line += '\n';
  const std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace akidb::embed::server
