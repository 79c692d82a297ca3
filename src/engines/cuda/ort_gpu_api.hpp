#pragma once
// The GPU build of ONNX Runtime (PyPI onnxruntime-gpu, installed on demand by
// `make setup-cuda`), opened at run time beside the CPU build the binary
// links: the nvidia-* CUDA libraries first (RTLD_GLOBAL, so the CUDA EP's
// own dependencies resolve to them), then the GPU libonnxruntime (RTLD_LOCAL:
// its symbols never mix with the linked CPU library's). Only its C API is
// used, through the OrtApi table it returns, so no global state of the C++
// API is involved (docs/devices.md, "How the GPU build is loaded").
#include <onnxruntime_c_api.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "devices/shared_library.hpp"

namespace akidb::embed::cuda {

class OrtGpuApi {
 public:
  // Opens the libraries under `dir` (`make setup-cuda`'s layout); the CUDA
  // libraries only with `with_cuda` (they need the NVIDIA driver). Throws
  // Error(Unavailable) naming the library that cannot be loaded.
  OrtGpuApi(const std::filesystem::path& dir, bool with_cuda);

  const OrtApi& api() const noexcept { return *api_; }
  // Throws Error(code) with `what` and ONNX Runtime's message when status
  // is an error (and releases it).
  void check(OrtStatus* status, const std::string& what, bool device_error) const;

 private:
  std::vector<devices::SharedLibrary> cuda_libraries_;
  devices::SharedLibrary onnxruntime_;
  const OrtApi* api_ = nullptr;
};

// unique_ptr with the OrtApi's Release function as deleter.
template <class T>
using OrtPtr = std::unique_ptr<T, std::function<void(T*)>>;

}  // namespace akidb::embed::cuda
