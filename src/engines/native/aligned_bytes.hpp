#pragma once
// A 64-byte aligned, zero-initialized byte array (int8 weight panels and
// quantized activations; AlignedBuffer is its float counterpart).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

namespace akidb::embed::native {

class AlignedBytes {
 public:
  AlignedBytes() = default;
  explicit AlignedBytes(std::size_t bytes) { resize(bytes); }

  // Discards the contents; the new array is zeroed.
  void resize(std::size_t bytes) {
    data_.reset(bytes ? static_cast<std::uint8_t*>(::operator new[](bytes, kAlign)) : nullptr);
    size_ = bytes;
    for (std::size_t i = 0; i < size_; ++i) data_[i] = 0;
  }
  // Grows (never shrinks) to at least `bytes`; returns true when it reallocated.
  bool reserve(std::size_t bytes) {
    if (bytes <= size_) return false;
    resize(bytes);
    return true;
  }

  std::uint8_t* data() noexcept { return data_.get(); }
  const std::uint8_t* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }

 private:
  static constexpr std::align_val_t kAlign{64};
  struct Free {
    void operator()(std::uint8_t* p) const noexcept { ::operator delete[](p, kAlign); }
  };
  std::unique_ptr<std::uint8_t[], Free> data_;
  std::size_t size_ = 0;
};

}  // namespace akidb::embed::native
