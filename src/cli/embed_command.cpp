// `akidb-embed embed`: text lines or JSONL in, JSONL vectors out.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include "akidb/embed/error.hpp"
#include "cli/common.hpp"
#include "cli/line_reader.hpp"
#include "core/float_format.hpp"

namespace akidb::embed::cli {
namespace {

struct EmbedOptions {
  ModelOptions model;
  std::string input = "-";
  std::string output = "-";
  std::string format = "auto";
  std::size_t batch_size = 64;
  bool no_normalize = false;
  std::optional<std::string> prompt_name;
  std::optional<std::string> prompt;
};

std::size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

class Progress {
 public:
  explicit Progress(std::size_t total) : total_(total), enabled_(total >= 256 && isatty(2)) {}
  void update(std::size_t done) const {
    if (!enabled_) return;
    const int width = 40;
    const auto filled = static_cast<int>(width * done / total_);
    std::fprintf(stderr, "\r[%.*s%*s] %zu/%zu", filled, "########################################",
                 width - filled, "", done, total_);
    if (done == total_) std::fputc('\n', stderr);
  }

 private:
  std::size_t total_;
  bool enabled_;
};

void write_batch(std::ostream& out, const EmbedResponse& response, std::size_t first_index) {
  std::string line;
  for (std::size_t i = 0; i < response.embeddings.rows(); ++i) {
    line.clear();
    line += "{\"index\":" + std::to_string(first_index + i) +
            ",\"tokens\":" + std::to_string(response.usage.input_tokens[i]) + ",\"embedding\":";
    append_float_array(line, response.embeddings.row(i));
    line += "}\n";
    out << line;
  }
}

// Embeds one batch; an InvalidInput error names the input's line number.
EmbedResponse embed_lines(EmbeddingProvider& provider, std::vector<std::string>& texts,
                          const EmbedOptions& options, std::size_t first_line) {
  auto request = EmbedRequest::from_texts(std::move(texts));
  if (options.no_normalize) request.normalize = false;  // else as the model does
  request.prompt_name = options.prompt_name;
  request.prompt = options.prompt;
  try {
    return provider.embed_batch(request);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::InvalidInput || !e.input_index()) throw;
    const std::string what = e.what();
    throw invalid_request("line " + std::to_string(first_line + *e.input_index()) +
                          what.substr(what.find(':')));
  }
}

void run_embed(const EmbedOptions& options) {
  std::ifstream file;
  if (options.input != "-") {
    file.open(options.input);
    if (!file) throw invalid_request("cannot open input file '" + options.input + "'");
  }
  std::ofstream out_file;
  if (options.output != "-") out_file.open(options.output);
  std::ostream& out = options.output == "-" ? std::cout : out_file;
  std::istream& in = options.input == "-" ? std::cin : file;

  auto provider = make_provider(options.model);
  Progress progress(options.input == "-" ? 0 : count_lines(options.input));
  LineReader reader(in, parse_format(options.format));
  std::vector<std::string> batch;
  std::size_t done = 0;
  auto flush = [&] {
    if (batch.empty()) return;
    const std::size_t n = batch.size();
    write_batch(out, embed_lines(*provider, batch, options, done + 1), done);
    done += n;
    batch.clear();
    progress.update(done);
  };
  while (auto text = reader.next()) {
    batch.push_back(std::move(*text));
    if (batch.size() >= options.batch_size) flush();
  }
  flush();
  if (done == 0) throw invalid_request("no input lines to embed");
}

}  // namespace

void register_embed(CLI::App& app) {
  auto options = std::make_shared<EmbedOptions>();
  auto* cmd =
      app.add_subcommand("embed", "embed text lines or JSONL {\"text\": ...} into JSONL vectors");
  add_model_options(*cmd, options->model);
  cmd->add_option("-i,--input", options->input, "input file ('-' for stdin)")
      ->capture_default_str();
  cmd->add_option("-o,--output", options->output, "output file ('-' for stdout)")
      ->capture_default_str();
  cmd->add_option("--format", options->format, "input format")
      ->check(CLI::IsMember({"auto", "text", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", options->batch_size, "inputs per embed call")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_flag("--no-normalize", options->no_normalize, "skip L2 normalization");
  auto* name = cmd->add_option("--prompt-name", options->prompt_name,
                               "one of the model's named prompts to prepend (default: the "
                               "model's default prompt, if it has one)");
  cmd->add_option("--prompt", options->prompt,
                  "a literal prompt to prepend instead ('' turns the default prompt off)")
      ->excludes(name);
  cmd->callback([options] { run_embed(*options); });
}

}  // namespace akidb::embed::cli
