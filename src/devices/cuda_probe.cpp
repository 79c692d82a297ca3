#include "devices/cuda_probe.hpp"

#include "devices/shared_library.hpp"
#include "runtime/ort_session.hpp"

namespace akidb::embed::devices {
namespace {

using CuInit = int (*)(unsigned);
using CuDriverGetVersion = int (*)(int*);
using CuDeviceGetCount = int (*)(int*);
using CuGetErrorName = int (*)(int, const char**);

std::string cuda_error(const SharedLibrary& cuda, int code) {
  const char* name = nullptr;
  auto get_name = reinterpret_cast<CuGetErrorName>(cuda.symbol("cuGetErrorName"));
  if (get_name != nullptr && get_name(code, &name) == 0 && name != nullptr) return name;
  return "CUDA error " + std::to_string(code);
}

std::string version_text(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

Probe probe_cuda_driver() {
  const SharedLibrary cuda("libcuda.so.1", false);
  if (!cuda.ok()) return {false, "no NVIDIA driver (" + cuda.error() + ")"};
  auto init = reinterpret_cast<CuInit>(cuda.symbol("cuInit"));
  auto version = reinterpret_cast<CuDriverGetVersion>(cuda.symbol("cuDriverGetVersion"));
  auto count = reinterpret_cast<CuDeviceGetCount>(cuda.symbol("cuDeviceGetCount"));
  if (init == nullptr || version == nullptr || count == nullptr)
    return {false, "libcuda.so.1 lacks the CUDA driver API (not an NVIDIA driver?)"};
  int driver = 0;
  if (const int rc = version(&driver); rc != 0)
    return {false, "the NVIDIA driver does not answer: " + cuda_error(cuda, rc)};
  if (driver < kCudaDriverApiNeeded) {
    return {false, "NVIDIA driver too old for CUDA 13: it supports CUDA " + version_text(driver) +
                       ", the GPU build needs " + version_text(kCudaDriverApiNeeded) +
                       " (driver 580 or newer)"};
  }
  if (const int rc = init(0); rc != 0)
    return {false, "the NVIDIA driver cannot start: " + cuda_error(cuda, rc)};
  int devices = 0;
  if (const int rc = count(&devices); rc != 0 || devices == 0)
    return {false, "no CUDA GPU (the driver sees " + std::to_string(devices) + " devices)"};
  return {true, std::to_string(devices) + " CUDA GPU(s), driver API " + version_text(driver)};
}

std::filesystem::path gpu_onnxruntime_library(const std::filesystem::path& dir) {
  return dir / "onnxruntime" / "capi" / ("libonnxruntime.so." + runtime::onnxruntime_version());
}

Probe probe_cuda_runtime(const std::filesystem::path& dir) {
  const auto library = gpu_onnxruntime_library(dir);
  std::error_code ec;
  if (!std::filesystem::exists(library, ec)) {
    return {false, "the CUDA runtime is not installed (no " + library.string() +
                       "): run `make setup-cuda`"};
  }
  const auto cuda_ep = dir / "onnxruntime" / "capi" / "libonnxruntime_providers_cuda.so";
  if (!std::filesystem::exists(cuda_ep, ec))
    return {false, "missing library " + cuda_ep.string() + ": run `make setup-cuda`"};
  return {true, "ONNX Runtime GPU build in " + dir.string()};
}

}  // namespace akidb::embed::devices
