#include "server/operations.hpp"

namespace akidb::embed::server {

Operations::Operations(const OperationsOptions& options)
    : cors_(options.cors_allow_origin), log_(options.access_log) {}

bool Operations::answer_preflight(const HttpRequest& req, HttpResponse& res) const {
  if (!cors_.is_preflight(req)) return false;
  res = cors_.preflight(req);
  return true;
}

void Operations::finish(const HttpRequest& req, HttpResponse& res, Clock::time_point received) {
  auto id = ids_.for_request(req.header("X-Request-Id"));
  cors_.decorate(req, res);
  if (log_.enabled()) {
    const std::chrono::duration<double, std::milli> total = Clock::now() - received;
    log_.write({req, res, id, total.count()});
  }
  res.set_header("X-Request-Id", std::move(id));
}

}  // namespace akidb::embed::server
