#include "engines/cuda/ort_gpu_api.hpp"

#include <algorithm>

#include "akidb/embed/error.hpp"
#include "devices/cuda_probe.hpp"

namespace akidb::embed::cuda {
namespace {

// The shared libraries of the nvidia-* wheels (nvidia/<package>/lib and
// nvidia/cu13/lib), sorted so that dependencies usually come first.
std::vector<std::filesystem::path> cuda_library_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir / "nvidia", ec)) return files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir / "nvidia", ec)) {
    const auto name = entry.path().filename().string();
    if (entry.is_regular_file() && entry.path().parent_path().filename() == "lib" &&
        name.find(".so") != std::string::npos)
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Opens every library, in as many passes as their mutual dependencies need
// (cuDNN's parts need each other); what still fails names its error.
std::vector<devices::SharedLibrary> preload(const std::filesystem::path& dir) {
  auto pending = cuda_library_files(dir);
  std::vector<devices::SharedLibrary> loaded;
  std::string last_error;
  while (!pending.empty()) {
    std::vector<std::filesystem::path> failed;
    for (const auto& file : pending) {
      devices::SharedLibrary lib(file.string(), true);
      if (lib.ok()) {
        loaded.push_back(std::move(lib));
      } else {
        failed.push_back(file);
        last_error = lib.error();
      }
    }
    if (failed.size() == pending.size())
      throw Error(ErrorCode::Unavailable, "missing library: " + last_error);
    pending = std::move(failed);
  }
  return loaded;
}

}  // namespace

OrtGpuApi::OrtGpuApi(const std::filesystem::path& dir, bool with_cuda)
    : cuda_libraries_(with_cuda ? preload(dir) : std::vector<devices::SharedLibrary>{}),
      onnxruntime_(devices::gpu_onnxruntime_library(dir).string(), false) {
  if (!onnxruntime_.ok())
    throw Error(ErrorCode::Unavailable, "missing library: " + onnxruntime_.error());
  using GetApiBase = const OrtApiBase* (*)();
  auto base = reinterpret_cast<GetApiBase>(onnxruntime_.symbol("OrtGetApiBase"));
  if (base != nullptr) api_ = base()->GetApi(ORT_API_VERSION);
  if (api_ == nullptr) {
    throw Error(ErrorCode::Unavailable, devices::gpu_onnxruntime_library(dir).string() +
                                            " does not offer ONNX Runtime API " +
                                            std::to_string(ORT_API_VERSION));
  }
}

void OrtGpuApi::check(OrtStatus* status, const std::string& what, bool device_error) const {
  if (status == nullptr) return;
  std::string message = what + ": " + api_->GetErrorMessage(status);
  api_->ReleaseStatus(status);
  throw Error(device_error ? ErrorCode::Unavailable : ErrorCode::Internal, message);
}

}  // namespace akidb::embed::cuda
