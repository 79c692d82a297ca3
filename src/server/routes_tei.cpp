// TEI's embedding routes: POST / and /embed, /embed_all, /similarity,
// /tokenize and /decode, in text-embeddings-inference's shapes.
#include <chrono>
#include <nlohmann/json.hpp>

#include "akidb/embed/pipeline.hpp"
#include "core/printable.hpp"
#include "server/api_error.hpp"
#include "server/api_request.hpp"
#include "server/api_response.hpp"
#include "server/router.hpp"

namespace akidb::embed::server {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// /tokenize does not apply prompts yet (/embed, /embed_all and / do).
void refuse_prompt_name(const std::optional<std::string>& prompt_name) {
  if (!prompt_name) return;
  throw ApiError(422, "invalid_request_error", "invalid_input",
                 "prompt_name '" + printable(*prompt_name) +
                     "' is not supported on /tokenize yet; /embed applies it");
}

// One token as TEI's /tokenize shows it: special tokens by name without
// offsets, the others as the bytes [start, stop) of the input.
json simple_token(const Tokenizer& tokenizer, std::string_view input, const Encoding& enc,
                  std::size_t k, bool special) {
  const auto id = enc.ids[k];
  if (special) {
    return {{"id", id},
            {"text", std::string(tokenizer.id_to_token(id))},
            {"special", true},
            {"start", nullptr},
            {"stop", nullptr}};
  }
  const auto [start, stop] = enc.offsets[k];
  return {{"id", id},
          {"text", std::string(input.substr(start, stop - start))},
          {"special", false},
          {"start", start},
          {"stop", stop}};
}

}  // namespace

// POST /: /similarity for {"inputs": {"source_sentence", "sentences"}}, else
// /embed. huggingface_hub's InferenceClient(model=URL) posts both
// feature_extraction and sentence_similarity to the URL itself.
HttpResponse Router::root(const HttpRequest& req) {
  return is_similarity_request(req.body) ? similarity(req) : embed(req);
}

HttpResponse Router::embed(const HttpRequest& req) {
  auto& model = default_model();
  auto parsed = parse_tei_request(req.body, options_.limits, model.info().dimension);
  HttpResponse res;
  auto result = run(model, std::move(parsed.request), req, res);
  const auto start = Clock::now();
  res.body = tei_response(result.response.embeddings);
  model.metrics().observe_stage(Stage::Serialize,
                                std::chrono::duration<double>(Clock::now() - start).count());
  return res;
}

// Per-token vectors come from the engine directly (not through the
// scheduler's pooled batches), on this request's thread.
HttpResponse Router::embed_all(const HttpRequest& req) {
  const auto& model = default_model();
  auto parsed = parse_tei_request(req.body, options_.limits, model.info().dimension);
  auto* pipeline = dynamic_cast<EmbeddingPipeline*>(&model.provider());
  if (pipeline == nullptr) {
    throw ApiError(501, "server_error", "not_supported",
                   "per-token vectors need an in-process engine (onnx or native); the " +
                       model.info().backend + " engine returns only pooled vectors");
  }
  const auto per_input = pipeline->token_embeddings(parsed.request);
  HttpResponse res;
  res.body = tei_token_vectors(per_input);
  res.stats.inputs = per_input.size();
  for (const auto& tokens : per_input) res.stats.tokens += tokens.rows();
  return res;
}

HttpResponse Router::similarity(const HttpRequest& req) {
  auto& model = default_model();
  auto parsed = parse_similarity_request(req.body, options_.limits);
  HttpResponse res;
  const auto result = run(model, std::move(parsed.request), req, res);
  const auto& vectors = result.response.embeddings;
  const auto source = vectors.row(0);
  std::vector<float> scores;
  scores.reserve(vectors.rows() - 1);
  for (std::size_t i = 1; i < vectors.rows(); ++i) {
    const auto row = vectors.row(i);
    double dot = 0;  // both are L2-normalized: the dot product is the cosine
    for (std::size_t d = 0; d < row.size(); ++d) dot += double{source[d]} * double{row[d]};
    scores.push_back(static_cast<float>(dot));
  }
  res.body = float_list(scores);
  return res;
}

HttpResponse Router::tokenize(const HttpRequest& req) {
  const auto& model = default_model();
  const Tokenizer& tokenizer = model.provider().tokenizer();
  const auto parsed = parse_tokenize_request(req.body, options_.limits);
  refuse_prompt_name(parsed.prompt_name);
  const EncodeOptions encode{model.info().max_tokens, parsed.truncate, true, parsed.direction};
  auto out = json::array();
  Encoding enc;
  for (std::size_t i = 0; i < parsed.inputs.size(); ++i) {
    try {
      tokenizer.encode(parsed.inputs[i], enc, encode);
    } catch (const Error& e) {
      throw Error(e.code(), "input " + std::to_string(i) + ": " + e.what(), i);
    }
    const std::size_t n = enc.ids.size();
    auto tokens = json::array();
    for (std::size_t k = 0; k < n; ++k) {
      // The post-processor's tokens: [CLS] first and [SEP] last (<s>, </s>).
      const bool special = (k == 0 && enc.ids[k] == tokenizer.cls_id()) ||
                           (k + 1 == n && enc.ids[k] == tokenizer.sep_id());
      if (special && !parsed.add_special_tokens) continue;
      tokens.push_back(simple_token(tokenizer, parsed.inputs[i], enc, k, special));
    }
    out.push_back(std::move(tokens));
  }
  HttpResponse res;
  res.body = out.dump(-1, ' ', false, json::error_handler_t::replace);
  res.stats.inputs = parsed.inputs.size();
  return res;
}

HttpResponse Router::decode(const HttpRequest& req) {
  const Tokenizer& tokenizer = default_model().provider().tokenizer();
  const auto parsed = parse_decode_request(req.body, options_.limits);
  std::vector<std::string> texts;
  texts.reserve(parsed.ids.size());
  for (std::size_t i = 0; i < parsed.ids.size(); ++i) {
    try {
      texts.push_back(tokenizer.decode(parsed.ids[i], parsed.skip_special_tokens));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::InvalidInput) throw;
      throw Error(e.code(), "ids[" + std::to_string(i) + "]: " + e.what(), i);
    }
  }
  HttpResponse res;
  res.body = string_list(texts);
  res.stats.inputs = texts.size();
  return res;
}

}  // namespace akidb::embed::server
