#pragma once
// An array of weights of type T that the encoder reads: either owned (64-byte
// aligned, zeroed on allocation) or a view into a memory mapping (the
// packed-weights cache, or model.safetensors) that the owner of the weights
// keeps alive (BertWeights::mappings). Moving keeps the data where it is.
#include <cstddef>
#include <memory>
#include <new>
#include <span>

namespace akidb::embed::native {

template <class T>
class WeightArray {
 public:
  WeightArray() = default;
  // Owned, zeroed.
  explicit WeightArray(std::size_t count) : owned_(allocate(count)), size_(count) {
    data_ = owned_.get();
    for (std::size_t i = 0; i < count; ++i) owned_[i] = T{};
  }
  // An owned copy of `values`.
  static WeightArray copy_of(std::span<const T> values) {
    WeightArray a(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) a.owned_[i] = values[i];
    return a;
  }
  // Not owned: `data` must stay valid (and unchanged) while this array is used.
  static WeightArray view(const T* data, std::size_t count) noexcept {
    WeightArray a;
    a.data_ = data;
    a.size_ = count;
    return a;
  }

  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool owned() const noexcept { return owned_ != nullptr; }
  // Owned arrays only (null for a view).
  T* mutable_data() noexcept { return owned_.get(); }
  std::span<const T> span() const noexcept { return {data_, size_}; }
  std::span<const std::byte> bytes() const noexcept {
    return {reinterpret_cast<const std::byte*>(data_), size_ * sizeof(T)};
  }

 private:
  static constexpr std::align_val_t kAlign{64};
  struct Free {
    void operator()(T* p) const noexcept { ::operator delete[](p, kAlign); }
  };
  static std::unique_ptr<T[], Free> allocate(std::size_t count) {
    if (count == 0) return nullptr;
    return std::unique_ptr<T[], Free>(static_cast<T*>(::operator new[](count * sizeof(T), kAlign)));
  }

  std::unique_ptr<T[], Free> owned_;
  const T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace akidb::embed::native
