#include "cli/common.hpp"

#include <cstdio>

namespace akidb::embed::cli {

void add_model_options(CLI::App& app, ModelOptions& options) {
  auto& p = options.provider;
  p.model_dir = "models/all-MiniLM-L6-v2";
  app.add_option("--model", p.model_dir, "model directory (akidb.json, model.onnx, tokenizer.json)")
      ->envname("AKIDB_MODEL_DIR")
      ->capture_default_str();
  app.add_option("--variant", p.variant,
                 "model variant from the manifest: fp32, opt, int8 (default: the manifest's); "
                 "the native engine runs fp32, bf16 or int8")
      ->envname("AKIDB_VARIANT")
      ->capture_default_str();
  app.add_option("--engine,--backend", p.engine,
                 "inference engine: auto (the native engine on a CPU where the model has "
                 "its files, else onnx), onnx (ONNX Runtime in process), native (the C++ "
                 "BERT encoder on model.safetensors) or python (supervised Python workers)")
      ->envname("AKIDB_ENGINE")
      ->check(CLI::IsMember(available_engines()))
      ->capture_default_str();
  app.add_option("--device", p.device,
                 "where inference runs: cpu (ONNX Runtime), cuda (ONNX Runtime's CUDA EP; `make "
                 "setup-cuda`), openvino (the OpenVINO engine), auto (the best that starts); "
                 "docs/devices.md")
      ->envname("AKIDB_DEVICE")
      ->check(CLI::IsMember(available_devices()))
      ->capture_default_str();
  app.add_option("--cuda-dir", p.cuda_dir,
                 "the GPU build of ONNX Runtime and its CUDA libraries (default: `make "
                 "setup-cuda`'s third_party/onnxruntime-cuda)")
      ->envname("AKIDB_CUDA_DIR");
  // Test hook (docs/devices.md): the device fails on this engine run.
  app.add_option("--inject-device-failure", p.inject_device_failure_after)
      ->envname("AKIDB_INJECT_DEVICE_FAILURE")
      ->group("");
  // Test hook (docs/server.md, "Watchdog"): this batch run never returns.
  app.add_option("--inject-hang-after", p.inject_hang_after)
      ->envname("AKIDB_INJECT_HANG_AFTER")
      ->group("");
  app.add_option("--threads", p.threads, "intra-op threads (0: all cores)")
      ->envname("AKIDB_THREADS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-inference-tokens", p.pipeline.max_inference_tokens,
                 "tokens per engine run within one request (padded tokens for onnx; 0: the "
                 "engine's preferred size, 512 for onnx on a CPU)")
      ->envname("AKIDB_MAX_INFERENCE_TOKENS")
      ->capture_default_str();
  app.add_option("--native-cache", p.native_cache,
                 "native engine: the packed-weights cache in the model directory, on or off "
                 "(default on; docs/native-engine.md)")
      ->envname("AKIDB_NATIVE_CACHE")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--workers", p.workers, "python engine: worker processes")
      ->envname("AKIDB_WORKERS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--python", p.python,
                 "python engine: interpreter (default: $AKIDB_PYTHON, else the .venv)")
      ->envname("AKIDB_PYTHON");
  app.add_option("--framing", options.framing, "python engine: wire framing")
      ->envname("AKIDB_FRAMING")
      ->check(CLI::IsMember({"binary", "json"}))
      ->capture_default_str();
}

ProviderOptions provider_options(const ModelOptions& options) {
  ProviderOptions p = options.provider;
  p.framing = options.framing == "json" ? BridgeFraming::Json : BridgeFraming::Binary;
  if (p.device != "cpu") {
    p.on_device = [](const DeviceChoice& choice) {
      std::fprintf(stderr, "akidb-embed: device %s: %s\n", choice.device.c_str(),
                   choice.reason.c_str());
    };
  }
  return p;
}

std::unique_ptr<EmbeddingProvider> make_provider(const ModelOptions& options) {
  return akidb::embed::make_provider(provider_options(options));
}

}  // namespace akidb::embed::cli
