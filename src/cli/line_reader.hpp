#pragma once
// Reads the inputs of `embed` and `tokenize`: plain text lines or JSONL
// objects with a "text" field, from a file or stdin.
#include <cstddef>
#include <istream>
#include <optional>
#include <string>

namespace akidb::embed::cli {

enum class InputFormat { Auto, Text, Jsonl };

class LineReader {
 public:
  LineReader(std::istream& in, InputFormat format) : in_(in), format_(format) {}

  // The next input text, or nullopt at the end. Throws InvalidInput naming
  // the line for malformed JSONL.
  std::optional<std::string> next();
  std::size_t line_number() const noexcept { return line_; }

 private:
  std::istream& in_;
  InputFormat format_;
  std::size_t line_ = 0;
};

InputFormat parse_format(const std::string& name);

}  // namespace akidb::embed::cli
