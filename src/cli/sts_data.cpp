#include "cli/sts_data.hpp"

#include <fstream>
#include <sstream>
#include <unordered_set>

#include "akidb/embed/error.hpp"

namespace akidb::embed::cli {
namespace {

// Splits one CSV record (which may span lines inside quotes) into fields.
bool read_record(std::istream& in, std::vector<std::string>& fields) {
  fields.assign(1, {});
  bool quoted = false;
  char c;
  if (in.peek() == EOF) return false;
  while (in.get(c)) {
    if (quoted) {
      if (c == '"' && in.peek() == '"') {
        fields.back() += '"';
        in.get(c);
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      break;
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return true;
}

}  // namespace

std::vector<StsPair> load_sts(const std::filesystem::path& csv) {
  std::ifstream in(csv);
  if (!in) throw invalid_request("cannot open STS file '" + csv.string() + "'");
  std::vector<StsPair> pairs;
  std::vector<std::string> fields;
  for (std::size_t line = 1; read_record(in, fields); ++line) {
    if (fields.size() != 3)
      throw invalid_request(csv.string() + ":" + std::to_string(line) + ": expected 3 fields");
    pairs.push_back({fields[0], fields[1], std::stod(fields[2])});
  }
  return pairs;
}

std::vector<std::string> unique_sentences(const std::vector<StsPair>& pairs) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const auto& p : pairs) {
    for (const auto* s : {&p.first, &p.second}) {
      if (seen.insert(*s).second) out.push_back(*s);
    }
  }
  return out;
}

}  // namespace akidb::embed::cli
