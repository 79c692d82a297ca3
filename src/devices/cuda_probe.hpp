#pragma once
// Can CUDA start here? Asked of the NVIDIA driver directly (libcuda.so.1, the
// driver API: cuInit, cuDriverGetVersion, cuDeviceGetCount), before anything
// large is loaded, so `--device cuda` fails at start-up with one line that
// names the cause: no driver, a driver too old for CUDA 13, no device, or
// the on-demand CUDA runtime not installed.
#include <filesystem>
#include <string>

namespace akidb::embed::devices {

struct Probe {
  bool ok = false;
  std::string why;  // the one-line cause when !ok; what was found when ok
};

// The CUDA major version the ONNX Runtime GPU build was made for (13) and the
// driver API version that supports it (cuDriverGetVersion: 1000*major + 10*minor).
inline constexpr int kCudaDriverApiNeeded = 13000;

// The NVIDIA driver and a GPU.
Probe probe_cuda_driver();
// The GPU build of ONNX Runtime and the nvidia-* libraries `make setup-cuda`
// installs under `dir`.
Probe probe_cuda_runtime(const std::filesystem::path& dir);

// <dir>/onnxruntime/capi/libonnxruntime.so.<version>: the GPU build's library.
std::filesystem::path gpu_onnxruntime_library(const std::filesystem::path& dir);

}  // namespace akidb::embed::devices
