#pragma once
// A 64-byte aligned, zero-initialized float array (cache-line aligned rows for
// the kernels).
#include <cstddef>
#include <memory>
#include <new>
#include <span>

namespace akidb::embed::native {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t floats) { resize(floats); }

  // Discards the contents; the new array is zeroed.
  void resize(std::size_t floats) {
    data_.reset(floats ? static_cast<float*>(::operator new[](floats * sizeof(float), kAlign))
                       : nullptr);
    size_ = floats;
    for (std::size_t i = 0; i < size_; ++i) data_[i] = 0.0f;
  }
  // Grows (never shrinks) to at least `floats`; returns true when it reallocated.
  bool reserve(std::size_t floats) {
    if (floats <= size_) return false;
    resize(floats);
    return true;
  }

  float* data() noexcept { return data_.get(); }
  const float* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  std::span<float> span() noexcept { return {data_.get(), size_}; }
  std::span<const float> span() const noexcept { return {data_.get(), size_}; }

 private:
  static constexpr std::align_val_t kAlign{64};
  struct Free {
    void operator()(float* p) const noexcept { ::operator delete[](p, kAlign); }
  };
  std::unique_ptr<float[], Free> data_;
  std::size_t size_ = 0;
};

}  // namespace akidb::embed::native
