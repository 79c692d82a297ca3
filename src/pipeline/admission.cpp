#include "akidb/embed/admission.hpp"

#include <algorithm>
#include <chrono>
#include <exception>
#include <thread>

#include "akidb/embed/error.hpp"
#include "akidb/embed/pooling.hpp"
#include "core/printable.hpp"

namespace akidb::embed {
namespace {

using Clock = std::chrono::steady_clock;

void check_request(const EmbedRequest& request, const AdmissionLimits& limits) {
  if (request.size() == 0) throw invalid_request("the request has no inputs: send at least one");
  if (request.dimensions > limits.dimension) {
    throw invalid_request("dimensions " + std::to_string(request.dimensions) +
                          " is more than the model's dimension " +
                          std::to_string(limits.dimension));
  }
}

std::string known_prompts(const std::map<std::string, std::string>& prompts) {
  if (prompts.empty()) return "the model has no prompts";
  std::string names;
  for (const auto& entry : prompts) names += (names.empty() ? "" : ", ") + entry.first;
  return "the model's prompts: " + names;
}

}  // namespace

std::size_t AdmittedRequest::tokens() const noexcept {
  std::size_t total = 0;
  for (const auto& enc : encodings) total += enc.ids.size();
  return total;
}

Admission::Admission(const Tokenizer& tokenizer, AdmissionLimits limits)
    : tokenizer_(tokenizer),
      limits_(limits),
      // hardware_concurrency() reads /sys: once, not per request.
      workers_(std::min<std::size_t>(std::thread::hardware_concurrency(), 8)) {}

void Admission::encode_ids(const TokenIds& ids, std::size_t i, TruncationDirection direction,
                           Encoding& out) const {
  const auto vocab = static_cast<std::int64_t>(tokenizer_.vocab_size());
  out.clear();
  out.ids.push_back(tokenizer_.cls_id());
  const std::size_t keep = std::min(ids.size(), limits_.max_seq_length - 2);
  // Left truncation keeps the last `keep` ids, right the first.
  const std::size_t first = direction == TruncationDirection::Left ? ids.size() - keep : 0;
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] < 0 || ids[k] >= vocab) {
      throw invalid_input(i, "token id " + std::to_string(ids[k]) +
                                 " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    }
    if (k >= first && k < first + keep) out.ids.push_back(ids[k]);
  }
  out.ids.push_back(tokenizer_.sep_id());
  out.type_ids.assign(out.ids.size(), 0);
  out.tokens_before_truncation = ids.size() + 2;
}

// The request's prompt (literal, named or the model's default) and its
// length: the prompt encoded alone, less a final [SEP] (sentence-transformers'
// _get_prompt_length). Token-id inputs take no prompt.
void Admission::resolve_prompt(const EmbedRequest& request, AdmittedRequest& admitted) const {
  const bool texts = std::holds_alternative<std::vector<std::string>>(request.inputs);
  if (request.prompt && request.prompt_name)
    throw invalid_request("give either prompt or prompt_name, not both");
  if ((request.prompt || request.prompt_name) && !texts)
    throw invalid_request("prompts apply to text inputs only, not to token ids");
  if (request.prompt) {
    if (auto bad = find_invalid_utf8(*request.prompt))
      throw invalid_request("prompt: invalid UTF-8 at byte " + std::to_string(*bad));
    admitted.prompt = *request.prompt;
  } else if (const auto& name =
                 request.prompt_name ? request.prompt_name : limits_.default_prompt_name;
             name && texts) {
    const auto it = limits_.prompts.find(*name);
    if (it == limits_.prompts.end())
      throw invalid_request("unknown prompt_name '" + printable(*name) + "' (" +
                            known_prompts(limits_.prompts) + ")");
    admitted.prompt = it->second;
  }
  // An empty prompt is no prompt (sentence-transformers: `len(prompt) > 0`).
  if (admitted.prompt && admitted.prompt->empty()) admitted.prompt.reset();
  if (!admitted.prompt) return;
  Encoding encoded;
  tokenizer_.encode(*admitted.prompt, encoded, {limits_.max_seq_length, true, false});
  admitted.prompt_length = encoded.ids.size();
  if (!encoded.ids.empty() && encoded.ids.back() == tokenizer_.sep_id()) --admitted.prompt_length;
}

void Admission::encode_one(const AdmittedRequest& admitted, std::size_t i, Encoding& out) const {
  const EmbedRequest& request = *admitted.request;
  if (const auto* texts = std::get_if<std::vector<std::string>>(&request.inputs)) {
    const std::string& text = (*texts)[i];
    if (auto bad = find_invalid_utf8(text)) {
      throw invalid_input(i, "invalid UTF-8 at byte " + std::to_string(*bad));
    }
    if (admitted.prompt) {
      tokenizer_.encode(*admitted.prompt + text, out,
                        {limits_.max_seq_length, true, false, request.truncation_direction});
    } else {
      tokenizer_.encode(text, out,
                        {limits_.max_seq_length, true, false, request.truncation_direction});
    }
  } else {
    encode_ids(std::get<std::vector<TokenIds>>(request.inputs)[i], i, request.truncation_direction,
               out);
  }
  if (!request.truncate && out.tokens_before_truncation > limits_.max_seq_length) {
    throw invalid_input(i, "input has " + std::to_string(out.tokens_before_truncation) +
                               " tokens, more than the model's maximum of " +
                               std::to_string(limits_.max_seq_length));
  }
}

void Admission::encode_range(AdmittedRequest& admitted, std::size_t begin, std::size_t end) const {
  for (std::size_t i = begin; i < end; ++i) encode_one(admitted, i, admitted.encodings[i]);
}

// Contiguous chunks on up to `workers_` threads; the first error by input index wins.
void Admission::encode_parallel(AdmittedRequest& admitted) const {
  const std::size_t n = admitted.size();
  std::vector<std::exception_ptr> errors(workers_);
  {
    std::vector<std::jthread> threads;
    const std::size_t chunk = (n + workers_ - 1) / workers_;
    for (std::size_t w = 0; w < workers_; ++w) {
      const std::size_t begin = w * chunk, end = std::min(n, begin + chunk);
      if (begin >= end) break;
      threads.emplace_back([&, w, begin, end] {
        try {
          encode_range(admitted, begin, end);
        } catch (...) {
          errors[w] = std::current_exception();
        }
      });
    }
  }
  for (auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

AdmittedRequest Admission::admit(const EmbedRequest& request) const {
  const auto start = Clock::now();
  check_request(request, limits_);
  AdmittedRequest admitted;
  admitted.request = &request;
  admitted.normalize = request.normalize.value_or(limits_.normalize);
  resolve_prompt(request, admitted);
  admitted.encodings.resize(request.size());
  if (admitted.size() < limits_.parallel_tokenize_min || workers_ < 2) {
    encode_range(admitted, 0, admitted.size());
  } else {
    encode_parallel(admitted);
  }
  admitted.tokenize_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  return admitted;
}

EmbedResponse make_response(const AdmittedRequest& admitted, Embeddings vectors,
                            const StageTimings& stages) {
  EmbedResponse response;
  const std::size_t dims = admitted.request->dimensions;
  if (dims != 0 && dims < vectors.dimension()) {
    response.embeddings = truncate_dimensions(vectors, dims, admitted.normalize);
  } else {
    response.embeddings = std::move(vectors);
  }
  auto& usage = response.usage;
  usage.input_tokens.reserve(admitted.size());
  for (const auto& enc : admitted.encodings) usage.input_tokens.push_back(enc.ids.size());
  usage.prompt_tokens = admitted.tokens();
  usage.stages = stages;
  usage.stages.tokenize_us = admitted.tokenize_us;
  usage.wall_ms = usage.stages.total_us / 1000.0;
  return response;
}

}  // namespace akidb::embed
