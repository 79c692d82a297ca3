#pragma once
// Where inference runs: `--device cpu|cuda|openvino|auto` (docs/devices.md).
//
// One rule: an explicit device that cannot start fails at start-up with one
// line saying why (Error(Unavailable)); `auto` takes the best device that
// starts and says what it chose and why; a device that fails later makes
// requests fail with Error(Unavailable) carrying the device's message and
// the provider unhealthy. Nothing ever switches device silently.
#include <string>
#include <vector>

namespace akidb::embed {

// "cpu", "cuda", "openvino", "auto".
std::vector<std::string> available_devices();

// Whether this build has the OpenVINO engine (CMake option AKIDB_WITH_OPENVINO).
bool openvino_built() noexcept;

// The device a provider will run on, and why (for `auto`; for an explicit
// device: that it was asked for).
struct DeviceChoice {
  std::string device;  // "cpu", "cuda" or "openvino"
  std::string reason;
};

}  // namespace akidb::embed
