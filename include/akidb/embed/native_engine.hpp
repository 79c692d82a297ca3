#pragma once
// The native engine: a C++ BERT encoder (fp32, bf16 or int8;
// AVX2/AVX-512/AVX512_BF16/VNNI kernels picked at run time) that reads
// model.safetensors and config.json from a model directory. Packed
// variable-length batches, no padding.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "akidb/embed/engine.hpp"

namespace akidb::embed {

struct NativeEngineOptions {
  std::filesystem::path model_dir;  // holds model.safetensors and config.json
  std::size_t threads = 0;          // 0: all hardware threads
  // "auto", "avx2" or "avx512"; empty: the AKIDB_NATIVE_ISA environment
  // variable, else "auto" (the best the CPU has).
  std::string isa;
  // Advertised in capabilities(): the GEMMs are most efficient at M = 64-256
  // tokens and lose ~15% at 2048 (docs/native-engine.md).
  std::size_t max_batch_tokens = 512;
  // "fp32" (empty: the same); "bf16": linear-layer weights rounded to
  // bfloat16, fp32 accumulation (vdpbf16ps with AVX512_BF16, else widened to
  // fp32); or "int8": linear layers with int8 weights (per output channel) and
  // int8 activations (per token), VNNI where the CPU has it. All are
  // batch-invariant (docs/native-engine.md).
  std::string variant = "fp32";
  // The packed-weights cache in model_dir (docs/native-engine.md): "on" or
  // "off"; empty: the AKIDB_NATIVE_CACHE environment variable, else "on".
  std::string cache;
};

// Where the forward passes' time went, per step of the encoder
// (NativeEngine::set_profiling).
struct NativeProfile {
  struct Step {
    std::string
        name;  // embeddings, qkv, attention, attn_out, attn_norm, ffn_up, ffn_down, ffn_norm
    double seconds = 0;  // wall time on the calling thread, join included, all passes
    double flops = 0;    // 2 x multiply-adds (GEMMs and attention; 0 otherwise)
    std::uint64_t calls = 0;
  };
  std::uint64_t forwards = 0;  // forward passes (run() calls with tokens)
  std::vector<Step> steps;
};

class NativeEngine final : public InferenceEngine {
 public:
  // Throws Error(ModelError) naming the file (and tensor) for missing or bad
  // weights or config; Error(Unavailable) when the CPU lacks AVX2 + FMA;
  // Error(InvalidInput) for an unknown isa or variant.
  explicit NativeEngine(NativeEngineOptions options);
  ~NativeEngine() override;

  const EngineCapabilities& capabilities() const noexcept override;
  // Throws Error(InvalidInput) naming the sequence for an out-of-range id or
  // type id, or a sequence longer than max_position_embeddings.
  void run(const SequenceBatch& batch, std::span<float> hidden) override;

  // The kernel set in use: "avx512" or "avx2"; for int8, the int8 GEMMs':
  // "avx512-vnni" or "avx2".
  std::string isa() const;
  // How the weights were loaded: "mapped" (from the packed-weights cache),
  // "written" (packed, cache written), "off", or "skipped: <why>".
  std::string cache_state() const;

  // On: the counters are reset and every step of every later run() is timed
  // (a clock read per step, ~50 per pass). Off (the default): no timing.
  void set_profiling(bool on);
  NativeProfile profile() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akidb::embed
