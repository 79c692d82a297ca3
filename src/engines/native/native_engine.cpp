#include "akidb/embed/native_engine.hpp"

#include <cstdlib>
#include <mutex>
#include <string>

#include "akidb/embed/error.hpp"
#include "bert_encoder.hpp"
#include "cpu_dispatch.hpp"

namespace akidb::embed {

using native::BertEncoder;

namespace {

std::string isa_choice(const NativeEngineOptions& options) {
  if (!options.isa.empty()) return options.isa;
  const char* env = std::getenv("AKIDB_NATIVE_ISA");
  return env ? env : "auto";
}

bool is_int8(const NativeEngineOptions& options) {
  if (options.variant.empty() || options.variant == "fp32") return false;
  if (options.variant == "int8") return true;
  throw invalid_request("native engine: unknown variant '" + options.variant +
                        "' (expected fp32 or int8)");
}

// The int8 variant quantizes all four linear layers of every encoder layer
// (docs/native-engine.md: accuracy by layer).
native::LinearFormats formats_of(bool int8) {
  const auto f = int8 ? native::WeightFormat::Int8 : native::WeightFormat::Fp32;
  return {f, f, f, f};
}

BertEncoder load_encoder(const std::filesystem::path& dir, bool int8) {
  auto config = native::load_bert_config(dir / "config.json");
  auto weights = native::load_bert_weights(dir / "model.safetensors", config, formats_of(int8));
  return BertEncoder(config, std::move(weights));
}

void check_batch(const SequenceBatch& batch, const native::BertConfig& c,
                 std::size_t hidden_floats) {
  if (batch.offsets.empty()) return;
  if (batch.offsets.front() != 0 || batch.ids.size() != batch.tokens() ||
      batch.type_ids.size() != batch.tokens())
    throw invalid_request("native engine: offsets do not match ids / type_ids");
  if (hidden_floats != batch.tokens() * c.hidden_size)
    throw invalid_request("native engine: output span is not tokens x hidden_size");
  for (std::size_t s = 0; s < batch.size(); ++s) {
    if (batch.offsets[s + 1] < batch.offsets[s])
      throw invalid_request("native engine: offsets are not ascending");
    if (batch.length(s) > c.max_tokens())
      throw invalid_input(s, "sequence of " + std::to_string(batch.length(s)) +
                                 " tokens exceeds the model's " + std::to_string(c.max_tokens()) +
                                 " positions");
    for (std::size_t t = batch.offsets[s]; t < batch.offsets[s + 1]; ++t) {
      if (batch.ids[t] < 0 || static_cast<std::size_t>(batch.ids[t]) >= c.vocab_size)
        throw invalid_input(s, "token id " + std::to_string(batch.ids[t]) + " out of range");
      if (batch.type_ids[t] < 0 || static_cast<std::size_t>(batch.type_ids[t]) >= c.type_vocab_size)
        throw invalid_input(s,
                            "token type id " + std::to_string(batch.type_ids[t]) + " out of range");
    }
  }
}

}  // namespace

struct NativeEngine::Impl {
  explicit Impl(const NativeEngineOptions& options)
      : kernels(native::select_kernels(native::parse_isa(isa_choice(options)))),
        int8(is_int8(options) ? &native::select_int8_kernels(native::parse_isa(isa_choice(options)))
                              : nullptr),
        encoder(load_encoder(options.model_dir, int8 != nullptr)),
        pool(options.threads) {
    caps.name = "native";
    caps.device = "cpu";
    caps.execution_provider = std::string("native-") + isa_name();
    caps.hidden_size = encoder.config().hidden_size;
    caps.max_batch_tokens = options.max_batch_tokens;
    caps.padded = false;
    caps.batch_invariant = true;
  }

  const char* isa_name() const { return int8 ? int8->name : kernels.name; }

  const native::KernelTable& kernels;
  const native::Int8KernelTable* int8;  // the int8 variant only
  BertEncoder encoder;
  native::ThreadPool pool;
  EngineCapabilities caps;
  native::StepProfile steps;
  bool profiling = false;
  mutable std::mutex mutex;  // one forward pass at a time: one workspace, one pool
};

NativeEngine::NativeEngine(NativeEngineOptions options) : impl_(std::make_unique<Impl>(options)) {}

NativeEngine::~NativeEngine() = default;

const EngineCapabilities& NativeEngine::capabilities() const noexcept { return impl_->caps; }

std::string NativeEngine::isa() const { return impl_->isa_name(); }

void NativeEngine::run(const SequenceBatch& batch, std::span<float> hidden) {
  check_batch(batch, impl_->encoder.config(), hidden.size());
  const std::lock_guard lock(impl_->mutex);
  const native::Compute cx{impl_->pool, impl_->kernels, impl_->int8,
                           impl_->profiling ? &impl_->steps : nullptr};
  impl_->encoder.forward(cx, {batch.ids, batch.type_ids, batch.offsets}, hidden);
}

void NativeEngine::set_profiling(bool on) {
  const std::lock_guard lock(impl_->mutex);
  impl_->steps.reset();
  impl_->profiling = on;
}

NativeProfile NativeEngine::profile() const {
  const std::lock_guard lock(impl_->mutex);
  NativeProfile out;
  out.forwards = impl_->steps.forwards();
  for (std::size_t i = 0; i < native::kSteps; ++i) {
    const auto& e = impl_->steps.entries()[i];
    out.steps.push_back(
        {native::step_name(static_cast<native::Step>(i)), e.seconds, e.flops, e.calls});
  }
  return out;
}

}  // namespace akidb::embed
