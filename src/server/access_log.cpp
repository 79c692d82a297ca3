#include "server/access_log.hpp"

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "akidb/embed/error.hpp"
#include "server/server_log.hpp"

namespace akidb::embed::server {
namespace {

constexpr std::size_t kMaxLoggedPath = 256;

double rounded(double ms) { return static_cast<double>(static_cast<long long>(ms * 1000)) / 1000; }

}  // namespace

AccessLog::AccessLog(const std::string& target) {
  if (target.empty()) return;
  if (target == "-") {
    out_ = stdout;
    return;
  }
  out_ = std::fopen(target.c_str(), "a");
  if (out_ == nullptr) {
    throw Error(ErrorCode::InvalidInput,
                "cannot open the access log " + target + ": " + std::strerror(errno));
  }
  owned_ = true;
}

AccessLog::~AccessLog() {
  if (owned_) std::fclose(out_);
}

std::string access_line(const AccessRecord& record) {
  const auto& req = record.request;
  const auto& res = record.response;
  nlohmann::ordered_json j;
  j["ts"] = utc_timestamp();
  j["request_id"] = record.request_id;
  j["method"] = req.method;
  j["route"] = req.path.substr(0, kMaxLoggedPath);
  j["status"] = res.status;
  j["inputs"] = res.stats.inputs;
  j["tokens"] = res.stats.tokens;
  j["queue_ms"] = rounded(res.stats.queue_ms);
  j["total_ms"] = rounded(record.total_ms);
  j["remote_addr"] = req.remote_addr;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void AccessLog::write(const AccessRecord& record) {
  if (!enabled()) return;
  auto line = access_line(record);
  line += '\n';
  const std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace akidb::embed::server
