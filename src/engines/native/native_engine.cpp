#include "akidb/embed/native_engine.hpp"

#include <cstdlib>
#include <mutex>
#include <string>

#include "akidb/embed/error.hpp"
#include "bert_encoder.hpp"
#include "cached_weights.hpp"
#include "cpu_dispatch.hpp"

namespace akidb::embed {

using native::BertEncoder;

namespace {

std::string isa_choice(const NativeEngineOptions& options) {
  if (!options.isa.empty()) return options.isa;
  const char* env = std::getenv("AKIDB_NATIVE_ISA");
  return env ? env : "auto";
}

bool cache_enabled(const NativeEngineOptions& options) {
  std::string mode = options.cache;
  if (mode.empty()) {
    const char* env = std::getenv("AKIDB_NATIVE_CACHE");
    mode = env && *env ? env : "on";
  }
  if (mode == "on") return true;
  if (mode == "off") return false;
  throw invalid_request("native engine: cache must be on or off, not '" + mode + "'");
}

BertEncoder load_encoder(const NativeEngineOptions& options, std::string& cache_state) {
  const auto format = native::parse_weight_format(options.variant);
  const bool cache = cache_enabled(options);
  auto config = native::load_bert_config(options.model_dir / "config.json");
  auto loaded = native::load_weights(options.model_dir, config, format, cache);
  cache_state = std::move(loaded.cache);
  return BertEncoder(config, std::move(loaded.weights));
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
        int8(native::parse_weight_format(options.variant) == native::WeightFormat::Int8
                 ? &native::select_int8_kernels(native::parse_isa(isa_choice(options)))
                 : nullptr),
        encoder(load_encoder(options, cache_state)),
        pool(options.threads) {
    caps.name = "native";
    caps.device = "cpu";
    caps.execution_provider = std::string("native-") + isa_name();
    if (native::parse_weight_format(options.variant) == native::WeightFormat::Bf16)
      caps.execution_provider += std::string("-bf16-") + kernels.bf16_method;
    caps.hidden_size = encoder.config().hidden_size;
    caps.max_batch_tokens = options.max_batch_tokens;
    caps.padded = false;
    caps.batch_invariant = true;
  }

  const char* isa_name() const { return int8 ? int8->name : kernels.name; }

  const native::KernelTable& kernels;
  const native::Int8KernelTable* int8;  // the int8 variant only
  std::string cache_state;
  BertEncoder encoder;
  native::ThreadPool pool;
  EngineCapabilities caps;
  native::StepProfile steps;
  bool profiling = false;
  // Invariant: the encoder's workspace, the pool and the profile are used
  // only under `mutex`: one forward pass at a time (the scheduler's worker and
  // its express lane take turns here), so the pool only ever has one caller.
  mutable std::mutex mutex;
};

NativeEngine::NativeEngine(NativeEngineOptions options) : impl_(std::make_unique<Impl>(options)) {}

NativeEngine::~NativeEngine() = default;

const EngineCapabilities& NativeEngine::capabilities() const noexcept { return impl_->caps; }

std::string NativeEngine::isa() const { return impl_->isa_name(); }

std::string NativeEngine::cache_state() const { return impl_->cache_state; }

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
