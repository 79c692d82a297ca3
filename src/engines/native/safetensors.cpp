#include "safetensors.hpp"

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "akidb/embed/error.hpp"

namespace akidb::embed::native {
namespace {

std::string shape_string(const std::vector<std::size_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::size_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

TensorInfo parse_tensor(const std::string& file, const std::string& name, const nlohmann::json& j) {
  TensorInfo t;
  try {
    t.dtype = j.at("dtype").get<std::string>();
    t.shape = j.at("shape").get<std::vector<std::size_t>>();
    const auto offsets = j.at("data_offsets").get<std::vector<std::size_t>>();
    if (offsets.size() != 2) throw model_error(file, "tensor " + name + ": bad data_offsets");
    t.begin = offsets[0];
    t.end = offsets[1];
  } catch (const nlohmann::json::exception& e) {
    throw model_error(file, "tensor " + name + ": bad header entry (" + e.what() + ")");
  }
  std::size_t count = 1;
  for (const auto d : t.shape) count *= d;
  const std::size_t bytes = dtype_bytes(t.dtype);
  if (bytes == 0) throw model_error(file, "tensor " + name + ": unknown dtype " + t.dtype);
  if (t.end < t.begin || t.end - t.begin != count * bytes)
    throw model_error(
        file, "tensor " + name + ": data_offsets do not match shape " + shape_string(t.shape));
  return t;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : file_(path.string()), map_(std::make_shared<const MappedFile>(path)) {
  base_ = map_->bytes().data();
  size_ = map_->bytes().size();
  if (size_ < 8) throw model_error(file_, "truncated: shorter than the 8-byte header length");
  parse_header();
}

void SafetensorsFile::parse_header() {
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | std::to_integer<std::uint64_t>(base_[i]);
  if (header_len > size_ - 8)
    throw model_error(
        file_, "truncated: header length " + std::to_string(header_len) + " exceeds the file");
  data_offset_ = 8 + static_cast<std::size_t>(header_len);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(base_ + 8),
                                   reinterpret_cast<const char*>(base_ + data_offset_));
  } catch (const nlohmann::json::exception& e) {
    throw model_error(file_, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) throw model_error(file_, "header is not a JSON object");
  const std::size_t data_size = size_ - data_offset_;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    TensorInfo t = parse_tensor(file_, name, entry);
    if (t.end > data_size)
      throw model_error(file_, "truncated: tensor " + name + " extends past the end of the file");
    tensors_.emplace(name, std::move(t));
  }
}

const TensorInfo& SafetensorsFile::checked_f32(const std::string& name,
                                               const std::vector<std::size_t>& shape) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw model_error(file_, "missing tensor " + name);
  const TensorInfo& t = it->second;
  if (t.dtype != "F32")
    throw model_error(file_, "tensor " + name + ": dtype " + t.dtype + ", expected F32");
  if (t.shape != shape)
    throw model_error(file_, "tensor " + name + ": shape " + shape_string(t.shape) + ", expected " +
                                 shape_string(shape));
  return t;
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name,
                                             const std::vector<std::size_t>& shape) const {
  const TensorInfo& t = checked_f32(name, shape);
  std::vector<float> out((t.end - t.begin) / sizeof(float));
  std::memcpy(out.data(), base_ + data_offset_ + t.begin, t.end - t.begin);
  return out;
}

std::span<const float> SafetensorsFile::view_f32(const std::string& name,
                                                 const std::vector<std::size_t>& shape) const {
  const TensorInfo& t = checked_f32(name, shape);
  const std::byte* p = base_ + data_offset_ + t.begin;
  if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0) return {};
  return {reinterpret_cast<const float*>(p), (t.end - t.begin) / sizeof(float)};
}

void SafetensorsFile::release(const std::string& name) const noexcept {
  const auto it = tensors_.find(name);
  if (it != tensors_.end())
    map_->release(data_offset_ + it->second.begin, it->second.end - it->second.begin);
}

}  // namespace akidb::embed::native
