// The embedding routes: OpenAI's /v1/embeddings, TEI's /embed and /tokenize.
#include <chrono>
#include <nlohmann/json.hpp>

#include "server/api_error.hpp"
#include "server/api_response.hpp"
#include "server/router.hpp"

namespace akidb::embed::server {
namespace {

using Clock = std::chrono::steady_clock;

// How often a waiting request checks whether its client is still there.
constexpr std::chrono::milliseconds kClientPoll{20};

}  // namespace

// Submits the request and waits for it; a client that hangs up meanwhile
// cancels it, so its inputs not yet run cost nothing.
ScheduledResponse Router::run(EmbedRequest request, const HttpRequest& req, HttpResponse& res) {
  require_ready();
  const auto deadline = Clock::now() + options_.request_timeout;
  auto ticket = scheduler_->submit(std::move(request), deadline);
  while (!ticket->ready_within(kClientPoll)) {
    if (Clock::now() >= deadline) break;  // wait() below throws Timeout and cancels
    if (req.client_gone && req.client_gone()) {
      ticket->cancel();
      throw ApiError(499, "invalid_request_error", "client_closed_request",
                     "the client closed the connection before the response was ready");
    }
  }
  auto result = ticket->wait(deadline);
  const auto& usage = result.response.usage;
  metrics_.observe_stage(Stage::Tokenize, usage.stages.tokenize_us / 1e6);
  metrics_.observe_stage(Stage::Queue, result.queue_us / 1e6);
  metrics_.add_served(result.response.embeddings.rows(), usage.prompt_tokens);
  res.stats = {result.response.embeddings.rows(), usage.prompt_tokens, result.queue_us / 1e3};
  return result;
}

HttpResponse Router::embeddings(const HttpRequest& req) {
  require_ready();
  auto parsed = parse_openai_request(req.body, options_.limits, info_.dimension);
  if (parsed.dimensions) parsed.request.dimensions = *parsed.dimensions;
  HttpResponse res;
  auto result = run(std::move(parsed.request), req, res);
  const auto start = Clock::now();
  res.body = openai_response(result.response.embeddings, info_.model, parsed.base64,
                             result.response.usage.prompt_tokens);
  metrics_.observe_stage(Stage::Serialize,
                         std::chrono::duration<double>(Clock::now() - start).count());
  return res;
}

HttpResponse Router::embed(const HttpRequest& req) {
  require_ready();
  auto parsed = parse_tei_request(req.body, options_.limits);
  HttpResponse res;
  auto result = run(std::move(parsed.request), req, res);
  const auto start = Clock::now();
  res.body = tei_response(result.response.embeddings);
  metrics_.observe_stage(Stage::Serialize,
                         std::chrono::duration<double>(Clock::now() - start).count());
  return res;
}

HttpResponse Router::tokenize(const HttpRequest& req) {
  require_ready();
  const Tokenizer& tokenizer = provider_->tokenizer();
  const auto parsed = parse_tokenize_request(req.body, options_.limits);
  const EncodeOptions encode{info_.max_tokens, parsed.truncate, parsed.return_tokens};
  auto out = nlohmann::json::array();
  Encoding enc;
  for (const auto& input : parsed.inputs) {
    tokenizer.encode(input, enc, encode);
    std::size_t begin = 0, end = enc.ids.size();
    if (!parsed.add_special_tokens && end >= 2) ++begin, --end;  // drop [CLS] and [SEP]
    nlohmann::json item;
    item["ids"] = std::vector<std::int32_t>(enc.ids.begin() + static_cast<std::ptrdiff_t>(begin),
                                            enc.ids.begin() + static_cast<std::ptrdiff_t>(end));
    item["truncated"] = enc.tokens_before_truncation > enc.ids.size();
    if (parsed.return_tokens) {
      auto tokens = nlohmann::json::array(), offsets = nlohmann::json::array();
      for (std::size_t k = begin; k < end; ++k) {
        tokens.push_back(std::string(tokenizer.id_to_token(enc.ids[k])));
        if (k < enc.offsets.size())
          offsets.push_back({enc.offsets[k].first, enc.offsets[k].second});
      }
      item["tokens"] = std::move(tokens);
      item["offsets"] = std::move(offsets);
    }
    out.push_back(std::move(item));
  }
  HttpResponse res;
  res.body = out.dump();
  res.stats.inputs = parsed.inputs.size();
  return res;
}

}  // namespace akidb::embed::server
