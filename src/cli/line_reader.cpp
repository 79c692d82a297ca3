#include "cli/line_reader.hpp"

#include <nlohmann/json.hpp>

#include "akidb/embed/error.hpp"

namespace akidb::embed::cli {
namespace {

std::string text_field(const std::string& line, std::size_t line_number) {
  const auto where = "line " + std::to_string(line_number) + ": ";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    throw invalid_request(where + "malformed JSON (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
    throw invalid_request(where + "expected an object with a string field \"text\"");
  return j["text"].get<std::string>();
}

}  // namespace

InputFormat parse_format(const std::string& name) {
  if (name == "text") return InputFormat::Text;
  if (name == "jsonl") return InputFormat::Jsonl;
  return InputFormat::Auto;
}

std::optional<std::string> LineReader::next() {
  std::string line;
  if (!std::getline(in_, line)) return std::nullopt;
  ++line_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (format_ == InputFormat::Auto) {
    format_ = (!line.empty() && line.front() == '{') ? InputFormat::Jsonl : InputFormat::Text;
  }
  if (format_ == InputFormat::Text) return line;
  return text_field(line, line_);
}

}  // namespace akidb::embed::cli
