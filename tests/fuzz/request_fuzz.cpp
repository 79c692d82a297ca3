// libFuzzer harness for the API's request parsing (src/server/api_request.cpp):
// the body of every POST route, arbitrary bytes in. The first byte picks the
// route; a parser may only answer with an ApiError (400/413/422), and what it
// accepts must respect the limits. Accepted /tokenize and /decode requests
// then run through the real tokenizer ($AKIDB_FUZZ_TOKENIZER, default
// models/all-MiniLM-L6-v2/tokenizer.json): left and right truncation, and
// decode, which may only refuse with Error(InvalidInput).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "akidb/embed/error.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "server/api_error.hpp"
#include "server/api_request.hpp"

namespace {

using namespace akidb::embed;
using namespace akidb::embed::server;

constexpr RequestLimits kLimits{16, 256};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_request(const EmbedRequest& r) {
  check(r.size() >= 1 && r.size() <= kLimits.max_inputs);
  if (const auto* texts = std::get_if<std::vector<std::string>>(&r.inputs)) {
    for (const auto& t : *texts) check(count_code_points(t) <= kLimits.max_input_chars);
  } else {
    for (const auto& ids : std::get<std::vector<TokenIds>>(r.inputs)) {
      check(!ids.empty() && ids.size() <= kLimits.max_input_chars);
    }
  }
  check(r.dimensions <= 384);
}

const Tokenizer& tokenizer() {
  static const Tokenizer tok = [] {
    const char* env = std::getenv("AKIDB_FUZZ_TOKENIZER");
    return Tokenizer::from_file(env ? env : "models/all-MiniLM-L6-v2/tokenizer.json");
  }();
  return tok;
}

void run_tokenize(const TokenizeRequest& r) {
  for (const auto& text : r.inputs) {
    const auto enc = tokenizer().encode(text, {32, true, true, r.direction});
    check(enc.ids.size() <= 32 && enc.ids.size() == enc.offsets.size());
    check(enc.ids.front() == tokenizer().cls_id() && enc.ids.back() == tokenizer().sep_id());
  }
}

void run_decode(const DecodeRequest& r) {
  for (const auto& ids : r.ids) {
    try {
      tokenizer().decode(ids, r.skip_special_tokens);
    } catch (const Error& e) {
      check(e.code() == ErrorCode::InvalidInput);
    }
  }
}

void parse(std::uint8_t route, std::string_view body) {
  switch (route % 6) {
    case 0:
      check_request(parse_openai_request(body, kLimits, 384).request);
      break;
    case 1:
      check_request(parse_tei_request(body, kLimits, 384).request);
      break;
    case 2: {
      const auto r = parse_similarity_request(body, kLimits);
      check_request(r.request);
      check(r.request.normalize == true);
      break;
    }
    case 3: {
      const auto r = parse_tokenize_request(body, kLimits);
      check(!r.inputs.empty() && r.inputs.size() <= kLimits.max_inputs);
      run_tokenize(r);
      break;
    }
    case 4: {
      const auto r = parse_decode_request(body, kLimits);
      check(!r.ids.empty() && r.ids.size() <= kLimits.max_inputs);
      run_decode(r);
      break;
    }
    default:
      is_similarity_request(body);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    parse(data[0], body);
  } catch (const ApiError& e) {
    check(e.status() == 400 || e.status() == 413 || e.status() == 422);
    check(std::string_view(e.what()).size() > 0);
  }
  return 0;
}
