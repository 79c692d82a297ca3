#pragma once
// Chooses and starts the engine for `--device` (docs/devices.md): an explicit
// device that cannot start throws Error(Unavailable) "device X cannot start:
// <why>; ..."; `auto` tries CUDA, then OpenVINO on an Intel GPU, then the CPU,
// and says what it chose and why.
#include <memory>
#include <optional>
#include <string>

#include "akidb/embed/device.hpp"
#include "akidb/embed/engine.hpp"
#include "akidb/embed/factory.hpp"
#include "akidb/embed/pipeline.hpp"

namespace akidb::embed::devices {

struct StartedEngine {
  DeviceChoice choice;
  PipelineParts parts;  // the model (in the device's variant) and its engine
};

// Loads the model and starts options.device's engine (engine "onnx" only).
StartedEngine start_device(const ProviderOptions& options);

// `auto`'s first choices: CUDA, then OpenVINO on an Intel GPU. Nullopt (and
// `why` saying what each lacked) when neither starts.
std::optional<StartedEngine> start_accelerator(const ProviderOptions& options, std::string& why);

// The variant a device runs when none is asked for: the manifest's default,
// except on OpenVINO: the plain fp32 graph (the "opt" graph's fused
// com.microsoft operators are ONNX Runtime's; OpenVINO cannot read them).
std::string default_variant(const std::string& device);

}  // namespace akidb::embed::devices
