#pragma once
// A read-only, memory-mapped safetensors file: 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}}, then the data.
// Every error is Error(ModelError) naming the file and, where it applies, the
// tensor.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace akidb::embed::native {

struct TensorInfo {
  std::string dtype;
  std::vector<std::size_t> shape;
  std::size_t begin = 0;  // byte offsets into the data section
  std::size_t end = 0;
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const std::map<std::string, TensorInfo>& tensors() const noexcept { return tensors_; }

  // The F32 tensor `name`, checked against `shape`, copied out (the mapping
  // need not be aligned).
  std::vector<float> read_f32(const std::string& name, const std::vector<std::size_t>& shape) const;

 private:
  void parse_header();
  std::string file_;
  const std::byte* map_ = nullptr;
  std::size_t size_ = 0;
  std::size_t data_offset_ = 0;
  std::map<std::string, TensorInfo> tensors_;
};

}  // namespace akidb::embed::native
