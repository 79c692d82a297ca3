#pragma once
// A whole file mapped read-only (MAP_PRIVATE). Errors are Error(ModelError)
// naming the file.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

namespace akidb::embed::native {

class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  const std::string& name() const noexcept { return file_; }

  // Drops this process's pages of [offset, offset + size) (MADV_DONTNEED):
  // they stop counting in its RSS and are read again from the file if
  // touched later. The contents seen through the mapping do not change.
  void release(std::size_t offset, std::size_t size) const noexcept;

 private:
  std::string file_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace akidb::embed::native
