// akidb-tokenize: JSONL in, JSONL out; the C++ side of the tokenizer parity
// tests and the tokenizer speed benchmark.
//
//   akidb-tokenize [--tokenizer PATH] [--max-length N] [--bench [--seconds S]] [FILE]
//
// Each input line is {"text": "..."} (or {"hex": "..."} for raw bytes). Each
// output line is {"ids":[...],"type_ids":[...],"offsets":[[s,e],...],"n":N}
// with offsets in Unicode characters of the input, or {"error":"...","code":"..."}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "akidb/embed/error.hpp"
#include "akidb/embed/tokenizer.hpp"

namespace {

using akidb::embed::EncodeOptions;
using akidb::embed::Encoding;
using akidb::embed::Tokenizer;
using nlohmann::json;

struct Args {
  std::string tokenizer = "models/all-MiniLM-L6-v2/tokenizer.json";
  std::size_t max_length = 256;
  bool bench = false;
  double seconds = 3.0;
  std::string input;  // empty: stdin
};

[[noreturn]] void usage() {
  std::cerr << "usage: akidb-tokenize [--tokenizer PATH] [--max-length N] [--bench "
               "[--seconds S]] [FILE]\n";
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--tokenizer" && has_value) {
      args.tokenizer = argv[++i];
    } else if (a == "--max-length" && has_value) {
      args.max_length = std::stoul(argv[++i]);
    } else if (a == "--seconds" && has_value) {
      args.seconds = std::stod(argv[++i]);
    } else if (a == "--bench") {
      args.bench = true;
    } else if (!a.starts_with("--") && args.input.empty()) {
      args.input = a;
    } else {
      usage();
    }
  }
  return args;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// One input line -> the text to encode; throws on malformed lines.
std::string read_text(const std::string& line) {
  const json j = json::parse(line);
  if (j.contains("hex")) return from_hex(j.at("hex").get<std::string>());
  return j.at("text").get<std::string>();
}

std::vector<std::uint32_t> char_index(const std::string& text) {
  std::vector<std::uint32_t> index(text.size() + 1, 0);
  std::uint32_t chars = 0;
  for (std::size_t b = 0; b < text.size(); ++b) {
    index[b] = chars;
    if ((static_cast<unsigned char>(text[b]) & 0xC0) != 0x80) ++chars;
  }
  index[text.size()] = chars;
  return index;
}

json to_json(const std::string& text, const Encoding& e) {
  const auto index = char_index(text);
  json offsets = json::array();
  for (const auto& [s, t] : e.offsets) offsets.push_back({index[s], index[t]});
  return json{{"ids", e.ids},
              {"type_ids", e.type_ids},
              {"offsets", offsets},
              {"n", e.tokens_before_truncation}};
}

json error_json(const std::string& message, std::string_view code) {
  return json{{"error", message}, {"code", code}};
}

int run_parity(const Tokenizer& tok, const Args& args, std::istream& in) {
  const EncodeOptions options{args.max_length, true, true};
  Encoding e;
  std::string line;
  while (std::getline(in, line)) {
    json out;
    try {
      const std::string text = read_text(line);
      tok.encode(text, e, options);
      out = to_json(text, e);
    } catch (const akidb::embed::Error& err) {
      out = error_json(err.what(), akidb::embed::to_string(err.code()));
    } catch (const json::exception& err) {
      out = error_json(err.what(), "bad_line");
    }
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
  }
  return 0;
}

// Wall seconds spent; `cpu_seconds` gets the process CPU time over the same
// loop (steadier than wall time on a loaded machine).
double time_loop(const Tokenizer& tok, const std::vector<std::string>& texts,
                 const EncodeOptions& options, double seconds, std::size_t& sentences,
                 std::size_t& tokens, double& cpu_seconds) {
  using clock = std::chrono::steady_clock;
  Encoding e;
  sentences = tokens = 0;
  const std::clock_t cpu_start = std::clock();
  const auto start = clock::now();
  std::chrono::duration<double> elapsed{0};
  do {
    for (const auto& text : texts) {
      tok.encode(text, e, options);
      tokens += e.ids.size();
    }
    sentences += texts.size();
    elapsed = clock::now() - start;
  } while (elapsed.count() < seconds);
  cpu_seconds = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  return elapsed.count();
}

int run_bench(const Tokenizer& tok, const Args& args, std::istream& in) {
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) texts.push_back(read_text(line));
  if (texts.empty()) return 1;
  json result{{"inputs", texts.size()}, {"max_length", args.max_length}, {"threads", 1}};
  for (const bool with_offsets : {false, true}) {
    std::size_t sentences = 0, tokens = 0;
    double cpu = 0.0;
    const double s = time_loop(tok, texts, EncodeOptions{args.max_length, true, with_offsets},
                               args.seconds, sentences, tokens, cpu);
    const double n = static_cast<double>(sentences);
    result[with_offsets ? "with_offsets" : "ids_only"] = {
        {"sentences", sentences},         {"seconds", s},
        {"sentences_per_s", n / s},       {"tokens_per_s", static_cast<double>(tokens) / s},
        {"us_per_sentence", s * 1e6 / n}, {"cpu_us_per_sentence", cpu * 1e6 / n}};
  }
  std::cout << result.dump(2) << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse_args(argc, argv);
  try {
    const Tokenizer tok = Tokenizer::from_file(args.tokenizer);
    std::ifstream file;
    if (!args.input.empty()) {
      file.open(args.input, std::ios::binary);
      if (!file) {
        std::cerr << "akidb-tokenize: cannot open " << args.input << '\n';
        return 1;
      }
    }
    std::istream& in = args.input.empty() ? std::cin : file;
    return args.bench ? run_bench(tok, args, in) : run_parity(tok, args, in);
  } catch (const std::exception& err) {
    std::cerr << "akidb-tokenize: " << err.what() << '\n';
    return 1;
  }
}
