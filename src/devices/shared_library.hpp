#pragma once
// A shared library opened with dlopen(), closed by RAII. Libraries that must
// stay mapped for the process's life (CUDA, a second ONNX Runtime) are opened
// with RTLD_NODELETE, so closing the handle never unmaps code still in use.
#include <string>

namespace akidb::embed::devices {

class SharedLibrary {
 public:
  // Opens `name` (a path or a soname). `global`: its symbols resolve the
  // libraries opened after it (the CUDA libraries ONNX Runtime's CUDA EP
  // links). Never throws; ok() and error() tell.
  SharedLibrary(const std::string& name, bool global);
  ~SharedLibrary();
  SharedLibrary(SharedLibrary&& other) noexcept;
  SharedLibrary& operator=(SharedLibrary&&) = delete;
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;

  bool ok() const noexcept { return handle_ != nullptr; }
  const std::string& error() const noexcept { return error_; }
  // The symbol's address, or nullptr.
  void* symbol(const char* name) const noexcept;

 private:
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace akidb::embed::devices
