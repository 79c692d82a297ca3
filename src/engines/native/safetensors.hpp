#pragma once
// A read-only, memory-mapped safetensors file: 8-byte little-endian header
// length, a JSON header {name: {dtype, shape, data_offsets}}, then the data.
// Every error is Error(ModelError) naming the file and, where it applies, the
// tensor.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mapped_file.hpp"

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

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  const std::map<std::string, TensorInfo>& tensors() const noexcept { return tensors_; }

  // The F32 tensor `name`, checked against `shape`, copied out (the mapping
  // need not be aligned).
  std::vector<float> read_f32(const std::string& name, const std::vector<std::size_t>& shape) const;
  // The same tensor in place, in the mapping (valid while mapping() lives);
  // empty when its data is not 4-byte aligned (then use read_f32).
  std::span<const float> view_f32(const std::string& name,
                                  const std::vector<std::size_t>& shape) const;
  // Drops the tensor's pages from the process's RSS (MappedFile::release).
  void release(const std::string& name) const noexcept;
  const std::shared_ptr<const MappedFile>& mapping() const noexcept { return map_; }

 private:
  void parse_header();
  const TensorInfo& checked_f32(const std::string& name,
                                const std::vector<std::size_t>& shape) const;
  std::string file_;
  std::shared_ptr<const MappedFile> map_;
  const std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  std::size_t data_offset_ = 0;
  std::map<std::string, TensorInfo> tensors_;
};

}  // namespace akidb::embed::native
