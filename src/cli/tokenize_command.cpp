// `akidb-embed tokenize`: token ids (and optionally token strings) per input.
#include <iostream>
#include <nlohmann/json.hpp>

#include "akidb/embed/manifest.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "cli/common.hpp"
#include "cli/line_reader.hpp"

namespace akidb::embed::cli {
namespace {

struct TokenizeOptions {
  ModelOptions model;
  std::vector<std::string> texts;
  bool tokens = false;
};

nlohmann::json describe(const Tokenizer& tokenizer, const Encoding& enc, bool with_tokens) {
  nlohmann::json j = {{"ids", enc.ids}, {"n", enc.tokens_before_truncation}};
  if (with_tokens) {
    std::vector<std::string> tokens;
    for (auto id : enc.ids) tokens.emplace_back(tokenizer.id_to_token(id));
    j["tokens"] = tokens;
    j["offsets"] = enc.offsets;
  }
  return j;
}

void run_tokenize(const TokenizeOptions& options) {
  const auto manifest = load_manifest(options.model.provider.model_dir);
  const auto tokenizer = Tokenizer::from_file(
      std::filesystem::path(options.model.provider.model_dir) / manifest.tokenizer);
  const EncodeOptions encode{manifest.max_seq_length, true, options.tokens};
  auto emit = [&](const std::string& text) {
    std::cout << describe(tokenizer, tokenizer.encode(text, encode), options.tokens).dump() << '\n';
  };
  if (!options.texts.empty()) {
    for (const auto& text : options.texts) emit(text);
    return;
  }
  LineReader reader(std::cin, InputFormat::Auto);
  while (auto text = reader.next()) emit(*text);
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  auto* cmd =
      app.add_subcommand("tokenize", "print token ids of texts (arguments, or lines on stdin)");
  add_model_options(*cmd, options->model);
  cmd->add_option("texts", options->texts, "texts to tokenize (default: read lines from stdin)");
  cmd->add_flag("--tokens", options->tokens, "also print token strings and byte offsets");
  cmd->callback([options] { run_tokenize(*options); });
}

}  // namespace akidb::embed::cli
