#pragma once
// Admission: a request validated and tokenized once, with exact token counts,
// before it is queued. Every backend admits through the same code, so a bad
// input gets the same error, in the same words, whatever runs the model.
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "akidb/embed/tokenizer.hpp"
#include "akidb/embed/types.hpp"

namespace akidb::embed {

struct AdmittedRequest {
  const EmbedRequest* request = nullptr;  // the inputs and options as sent (not owned)
  bool normalize = true;                  // the request's choice, else the model's
  std::vector<Encoding> encodings;        // one per input, [CLS] ... [SEP], after truncation
  // The prompt prepended to every text (named, literal or the model's
  // default), and its length in tokens as sentence-transformers counts it:
  // [CLS] and the prompt's tokens, not a final [SEP]. Pooling skips that many
  // tokens when the model's include_prompt is false.
  std::optional<std::string> prompt;
  std::size_t prompt_length = 0;
  double tokenize_us = 0;

  std::size_t size() const noexcept { return encodings.size(); }
  std::size_t tokens() const noexcept;  // sum of the encodings' lengths
};

// One input of an admitted request, and the row its vector goes to (the
// model's full dimension, normalized when the request asks for it).
struct SequenceRef {
  const AdmittedRequest* request = nullptr;
  std::size_t index = 0;
  float* out = nullptr;

  const Encoding& encoding() const noexcept { return request->encodings[index]; }
};

struct AdmissionLimits {
  std::size_t max_seq_length = 0;              // the model's, [CLS]/[SEP] included
  std::size_t dimension = 0;                   // the model's output dimension
  std::size_t parallel_tokenize_min = 64;      // tokenize in parallel from this many inputs
  bool normalize = true;                       // the model's default (manifest `normalize`)
  std::map<std::string, std::string> prompts;  // the model's named prompts
  std::optional<std::string> default_prompt_name;
};

class Admission {
 public:
  Admission(const Tokenizer& tokenizer, AdmissionLimits limits);

  // Validates and tokenizes every input. Throws Error(InvalidInput) naming
  // the input: empty request, invalid UTF-8, a token id outside the
  // vocabulary, too many tokens with truncation off, bad dimensions, an
  // unknown prompt_name or a prompt with token-id inputs. The
  // result refers to `request`, which must outlive it.
  AdmittedRequest admit(const EmbedRequest& request) const;

 private:
  void resolve_prompt(const EmbedRequest& request, AdmittedRequest& admitted) const;
  void encode_one(const AdmittedRequest& admitted, std::size_t i, Encoding& out) const;
  void encode_ids(const TokenIds& ids, std::size_t i, TruncationDirection direction,
                  Encoding& out) const;
  void encode_range(AdmittedRequest& admitted, std::size_t begin, std::size_t end) const;
  void encode_parallel(AdmittedRequest& admitted) const;

  const Tokenizer& tokenizer_;
  AdmissionLimits limits_;
  std::size_t workers_;
};

// The response for an admitted request whose full-dimension vectors are in
// `vectors`: keeps the asked dimensions (re-normalized) and fills usage.
EmbedResponse make_response(const AdmittedRequest& admitted, Embeddings vectors,
                            const StageTimings& stages);

}  // namespace akidb::embed
