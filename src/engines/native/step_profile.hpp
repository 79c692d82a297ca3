#pragma once
// Where the forward pass's time goes. The encoder marks the end of every step
// (embeddings, QKV GEMM, attention, ...); with a StepProfile attached to the
// Compute, the wall time since the previous mark is charged to that step,
// with its FLOPs. Without one the cost is a null check per step: no timer, no
// branch in any kernel.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace akidb::embed::native {

enum class Step : std::uint8_t {
  Embeddings,  // word + position + type, then LayerNorm
  Qkv,         // the fused QKV GEMM (+ bias)
  Attention,   // scores, softmax, weighted sum, every sequence and head
  AttnOut,     // output projection (+ bias + residual)
  AttnNorm,    // LayerNorm after attention
  FfnUp,       // FFN up (+ bias + GELU)
  FfnDown,     // FFN down (+ bias + residual)
  FfnNorm,     // LayerNorm after the FFN
};
inline constexpr std::size_t kSteps = 8;

inline const char* step_name(Step step) noexcept {
  constexpr const char* kNames[kSteps] = {"embeddings", "qkv",    "attention", "attn_out",
                                          "attn_norm",  "ffn_up", "ffn_down",  "ffn_norm"};
  return kNames[static_cast<std::size_t>(step)];
}

class StepProfile {
 public:
  struct Entry {
    double seconds = 0;
    double flops = 0;  // 2 x multiply-adds; 0 for steps that are not GEMM or attention
    std::uint64_t calls = 0;
  };

  // A forward pass begins: the next lap is timed from now.
  void start() noexcept {
    ++forwards_;
    last_ = Clock::now();
  }
  // `step` ended now.
  void lap(Step step, double flops) noexcept {
    const auto now = Clock::now();
    Entry& e = entries_[static_cast<std::size_t>(step)];
    e.seconds += std::chrono::duration<double>(now - last_).count();
    e.flops += flops;
    ++e.calls;
    last_ = now;
  }
  void reset() noexcept { *this = StepProfile{}; }

  std::uint64_t forwards() const noexcept { return forwards_; }
  const std::array<Entry, kSteps>& entries() const noexcept { return entries_; }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point last_{};
  std::uint64_t forwards_ = 0;
  std::array<Entry, kSteps> entries_{};
};

}  // namespace akidb::embed::native
