#pragma once
// The Python bridge: an EmbeddingProvider backed by supervised Python worker
// processes (python -m akidb_embed.bridge_service), for models or execution
// providers that are only reachable from Python.
#include <sys/types.h>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "akidb/embed/provider.hpp"

namespace akidb::embed {

enum class BridgeFraming {
  Json,    // newline-delimited JSON both ways (readable; vectors as decimal text)
  Binary,  // length-prefixed frames; vectors as raw little-endian float32
};

struct PythonBridgeOptions {
  std::filesystem::path model_dir;
  std::string variant;           // a key of the manifest's variants; empty: its default_variant
  int threads = 0;               // intra-op threads per worker; 0: onnxruntime's default with one
                                 // worker, else the cores divided among the workers
  std::size_t workers = 1;       // worker processes; each serves one request at a time
  std::filesystem::path python;  // interpreter; empty: $AKIDB_PYTHON, the build tree's
                                 // .venv/bin/python, else python3 on PATH
  std::filesystem::path python_path;    // folder holding the akidb_embed package, put first
                                        // on PYTHONPATH; empty: the source tree's python/
  std::string service_backend = "ort";  // "ort" (onnxruntime) or "st" (sentence-transformers)
  BridgeFraming framing = BridgeFraming::Binary;
  std::chrono::milliseconds startup_timeout{60000};  // spawn to first successful health check
  std::chrono::milliseconds request_timeout{30000};  // one reply from one worker
  std::chrono::milliseconds shutdown_grace{2000};    // shutdown command, then SIGTERM, then SIGKILL
  std::vector<std::string> extra_args;               // appended to the service's command line
};

class PythonBridgeProvider final : public EmbeddingProvider {
 public:
  // Starts the workers and waits until each passes a health check. Throws
  // Error(ModelError) when the service cannot load the model, else
  // Error(Unavailable); the message ends with the worker's stderr tail.
  explicit PythonBridgeProvider(PythonBridgeOptions options);
  // Shuts every worker down; no process or descriptor outlives the provider.
  ~PythonBridgeProvider() override;

  // A worker that crashes, hangs past request_timeout or answers garbage is
  // killed, reaped and restarted, and the request is retried once on a
  // fresh worker; a second failure is Error(Unavailable), or Error(Timeout)
  // when the worker hung.
  EmbedResponse embed_batch(const EmbedRequest& request) override;
  ModelInfo model_info() const override;
  HealthStatus health_check() override;
  AdmittedRequest admit(const EmbedRequest& request) const override;
  void embed_sequences(std::span<const SequenceRef> batch, StageTimings& stages) override;
  BatchingHints batching_hints() const override;
  const Tokenizer& tokenizer() const override;

  // The process ids of the workers, in worker order (0 for one that is down).
  std::vector<pid_t> worker_pids() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
