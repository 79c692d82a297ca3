#include "akidb/embed/python_bridge_provider.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include "akidb/embed/error.hpp"
#include "akidb/embed/pipeline.hpp"
#include "akidb/embed/pooling.hpp"
#include "akidb/embed/tokenizer.hpp"
#include "providers/bridge_worker.hpp"

#ifndef AKIDB_DEFAULT_PYTHON
#define AKIDB_DEFAULT_PYTHON ""
#endif
#ifndef AKIDB_DEFAULT_PYTHON_DIR
#define AKIDB_DEFAULT_PYTHON_DIR ""
#endif

namespace akidb::embed {
namespace {

using detail::BridgeWorker;
using detail::Clock;
using detail::Reply;
using detail::WorkerFailure;
using nlohmann::json;

std::string resolve_python(const std::filesystem::path& configured) {
  if (!configured.empty()) return configured.string();
  if (const char* env = std::getenv("AKIDB_PYTHON"); env && *env) return env;
  std::error_code ec;
  if (*AKIDB_DEFAULT_PYTHON && std::filesystem::exists(AKIDB_DEFAULT_PYTHON, ec))
    return AKIDB_DEFAULT_PYTHON;
  return "python3";
}

std::filesystem::path resolve_python_dir(const std::filesystem::path& configured) {
  if (!configured.empty()) return configured;
  std::error_code ec;
  const std::filesystem::path source = AKIDB_DEFAULT_PYTHON_DIR;
  if (!source.empty() && std::filesystem::exists(source / "akidb_embed", ec)) return source;
  return {};
}

// With several workers and no explicit count, the cores are shared out
// instead of every worker's onnxruntime claiming all of them.
int threads_per_worker(const PythonBridgeOptions& o) {
  if (o.threads > 0 || o.workers <= 1) return o.threads;
  const auto cores = static_cast<std::size_t>(std::thread::hardware_concurrency());
  return static_cast<int>(std::max<std::size_t>(1, cores / o.workers));
}

detail::SpawnSpec spawn_spec(const PythonBridgeOptions& o) {
  detail::SpawnSpec spec;
  spec.argv = {resolve_python(o.python), "-m", "akidb_embed.bridge_service"};
  spec.argv.insert(spec.argv.end(), {"--model", o.model_dir.string()});
  spec.argv.insert(spec.argv.end(), {"--threads", std::to_string(threads_per_worker(o))});
  spec.argv.insert(spec.argv.end(), {"--backend", o.service_backend});
  if (!o.variant.empty()) spec.argv.insert(spec.argv.end(), {"--variant", o.variant});
  spec.argv.insert(spec.argv.end(), o.extra_args.begin(), o.extra_args.end());
  // The checked-out python/ folder goes first on PYTHONPATH, so the service
  // is the code of this build, not whatever copy the interpreter has installed.
  spec.env = detail::current_environment();
  const auto dir = resolve_python_dir(o.python_path);
  if (!dir.empty()) {
    const char* old = std::getenv("PYTHONPATH");
    spec.env = detail::environment_with(
        "PYTHONPATH", dir.string() + (old && *old ? ":" + std::string(old) : std::string()));
  }
  return spec;
}

detail::WorkerSpec worker_spec(const PythonBridgeOptions& o) {
  return {spawn_spec(o), o.framing, o.startup_timeout, o.shutdown_grace};
}

// The service gets each input as sent (texts or ids), and the raw pooled
// vector comes back: normalization and dimensions stay on this side.
json request_json(std::span<const SequenceRef> batch, bool texts) {
  json inputs = json::array();
  for (const auto& ref : batch) {
    const auto& request = *ref.request->request;
    if (texts) {
      inputs.push_back(std::get<std::vector<std::string>>(request.inputs)[ref.index]);
    } else {
      inputs.push_back(std::get<std::vector<TokenIds>>(request.inputs)[ref.index]);
    }
  }
  return {{"cmd", "embed"},
          {"normalize", false},
          {"truncate", true},
          {texts ? "texts" : "ids", std::move(inputs)}};
}

bool is_text(const SequenceRef& ref) {
  return std::holds_alternative<std::vector<std::string>>(ref.request->request->inputs);
}

ErrorCode error_code(const std::string& type) {
  if (type == "InvalidInput") return ErrorCode::InvalidInput;
  if (type == "ModelError") return ErrorCode::ModelError;
  if (type == "Unavailable") return ErrorCode::Unavailable;
  if (type == "Timeout") return ErrorCode::Timeout;
  return ErrorCode::Internal;
}

// The service's error reply as the Error the pipeline would throw.
[[noreturn]] void throw_service_error(const Reply& reply) {
  const std::string message = reply.error_message();
  const ErrorCode code = error_code(reply.error_type());
  const json error = reply.json.is_object() ? reply.json.value("error", json()) : json();
  if (code == ErrorCode::InvalidInput && error.is_object()) {
    const auto index = error.find("index");
    if (index != error.end() && index->is_number_unsigned())
      throw invalid_input(index->get<std::size_t>(), message);
  }
  throw Error(code, message.empty() ? "the python service failed" : message);
}

void copy_json_rows(const json& rows, Embeddings& out) {
  if (!rows.is_array() || rows.size() != out.rows()) throw std::runtime_error("wrong row count");
  for (std::size_t i = 0; i < out.rows(); ++i) {
    const json& row = rows[i];
    if (!row.is_array() || row.size() != out.dimension())
      throw std::runtime_error("row " + std::to_string(i) + " has the wrong dimension");
    auto dst = out.row(i);
    for (std::size_t k = 0; k < dst.size(); ++k) dst[k] = row[k].get<float>();
  }
}

void copy_payload(const std::string& payload, Embeddings& out) {
  if (payload.size() != out.data().size_bytes())
    throw std::runtime_error("payload has " + std::to_string(payload.size()) + " bytes, expected " +
                             std::to_string(out.data().size_bytes()));
  std::memcpy(out.data().data(), payload.data(), payload.size());
}

double timing(const json& timings, const char* key) {
  const auto it = timings.find(key);
  return it != timings.end() && it->is_number() ? it->get<double>() : 0.0;
}

// Turns an ok reply into a response; throws std::runtime_error when the reply
// does not fit the request (a protocol failure).
EmbedResponse decode(const Reply& reply, std::size_t n, std::size_t dimension) {
  const json data = reply.data();
  if (data.at("dimension").get<std::size_t>() != dimension)
    throw std::runtime_error("dimension " + data.at("dimension").dump() + ", expected " +
                             std::to_string(dimension));
  EmbedResponse response;
  response.embeddings = Embeddings(n, dimension);
  const auto it = data.find("embeddings");
  if (it != data.end()) {
    copy_json_rows(*it, response.embeddings);
  } else {
    copy_payload(reply.payload, response.embeddings);
  }
  auto& usage = response.usage;
  usage.input_tokens = data.at("tokens").get<std::vector<std::size_t>>();
  if (usage.input_tokens.size() != n) throw std::runtime_error("wrong number of token counts");
  for (std::size_t t : usage.input_tokens) usage.prompt_tokens += t;
  const json timings = data.value("timings", json::object());
  usage.stages.tokenize_us = timing(timings, "tokenize_us");
  usage.stages.inference_us = timing(timings, "inference_us");
  usage.stages.normalize_us = timing(timings, "normalize_us");
  return response;
}

std::string joined(const json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& item : list) {
    if (!out.empty()) out += ",";
    out += item.is_string() ? item.get<std::string>() : item.dump();
  }
  return out;
}

}  // namespace

struct PythonBridgeProvider::Impl {
  PythonBridgeOptions options;
  detail::WorkerSpec spec;
  // Invariant: `workers` is fixed after construction. Each worker index is
  // at any moment either in `idle` or held by exactly one Lease; only the
  // holder touches that worker (calls, kills, restarts it), so BridgeWorker
  // needs no lock of its own. `idle` is touched only under `mutex`;
  // release() pushes the index back under it and then notifies
  // `idle_changed`, whose waiters (take_idle) re-check `idle` under the mutex,
  // so no wake-up is lost. The destructor stops the workers and must not run
  // beside a call (the provider outlives its scheduler's runs).
  std::vector<std::unique_ptr<BridgeWorker>> workers;
  std::mutex mutex;
  std::condition_variable idle_changed;
  std::deque<std::size_t> idle;  // FIFO, so load rotates over the workers
  ModelInfo info;
  // Admission runs here, with the model's own tokenizer, through the same
  // code as the in-process pipeline: the service never sees a bad input.
  std::optional<LoadedModel> model;
  std::optional<Admission> admission;

  explicit Impl(PythonBridgeOptions opts) : options(std::move(opts)), spec(worker_spec(options)) {
    if (options.workers == 0) throw invalid_request("the python bridge needs at least one worker");
    for (std::size_t i = 0; i < options.workers; ++i)
      workers.push_back(std::make_unique<BridgeWorker>(i, spec));
    start_all();  // first, so a bad model directory fails with the service's own words
    info = read_info(workers.front()->info());
    model.emplace(LoadedModel::load(options.model_dir, options.variant));
    info.pooling = pooling_name(model->manifest.pooling);
    admission.emplace(model->tokenizer,
                      AdmissionLimits{model->manifest.max_seq_length, info.dimension, 64,
                                      model->manifest.normalize, model->manifest.prompts,
                                      model->manifest.default_prompt_name});
    for (std::size_t i = 0; i < workers.size(); ++i) idle.push_back(i);
  }

  void embed_kind(std::span<const SequenceRef> batch, bool texts, StageTimings& stages);

  ~Impl() {
    for (auto& w : workers) w->request_stop();
    for (auto& w : workers) w->finish_stop();
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Spawns every worker first, so they load the model in parallel.
  void start_all() {
    const auto deadline = Clock::now() + options.startup_timeout;
    for (auto& w : workers) w->spawn();
    for (auto& w : workers) w->await_ready(deadline);
  }

  ModelInfo read_info(const json& j) const {
    return {j.value("model", std::string()),
            j.value("dimension", std::size_t{0}),
            j.value("max_tokens", std::size_t{0}),
            "python",
            joined(j.value("execution_providers", json::array())),
            j.value("variant", options.variant),
            "cpu"};
  }

  // A worker leased to one caller; returned to the pool on destruction.
  class Lease {
   public:
    Lease(Impl& impl, std::size_t index) : impl_(impl), index_(index) {}
    ~Lease() { impl_.release(index_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    BridgeWorker& worker() const { return *impl_.workers[index_]; }

   private:
    Impl& impl_;
    std::size_t index_;
  };

  std::size_t take_idle() {
    std::unique_lock lock(mutex);
    const auto deadline = Clock::now() + options.request_timeout;
    if (!idle_changed.wait_until(lock, deadline, [&] { return !idle.empty(); })) {
      throw Error(ErrorCode::Unavailable,
                  "all " + std::to_string(workers.size()) + " python workers stayed busy for " +
                      std::to_string(options.request_timeout.count()) + " ms");
    }
    const std::size_t index = idle.front();
    idle.pop_front();
    return index;
  }

  void release(std::size_t index) {
    {
      const std::lock_guard lock(mutex);
      idle.push_back(index);
    }
    idle_changed.notify_one();
  }

  // Kills a failed worker and starts a fresh one in its place; a worker that
  // cannot be started stays down and is tried again by the next caller.
  std::string replace(BridgeWorker& worker) noexcept {
    worker.kill();
    try {
      worker.start();
      return {};
    } catch (const std::exception& e) {
      return std::string("; its restart failed: ") + e.what();
    }
  }

  // Runs `use` on a healthy worker; on a worker failure, replaces the worker
  // and retries once.
  template <typename Use>
  auto with_retry(const json& request, Use&& use) {
    std::string first;
    for (int attempt = 0;; ++attempt) {
      const Lease lease(*this, take_idle());
      BridgeWorker& worker = lease.worker();
      try {
        if (!worker.running()) worker.start();
        return use(worker.call(request, options.request_timeout));
      } catch (const WorkerFailure& failure) {
        std::string message = failure.what() + replace(worker);
        if (attempt > 0)
          throw Error(failure.code(), message + " (retried once after: " + first + ")");
        first = std::move(message);
      } catch (const Error& e) {
        if (attempt == 0 || e.code() == ErrorCode::InvalidInput) throw;
        throw Error(e.code(), std::string(e.what()) + " (retried once after: " + first + ")");
      }
    }
  }
};

PythonBridgeProvider::PythonBridgeProvider(PythonBridgeOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

PythonBridgeProvider::~PythonBridgeProvider() = default;

// One service call for the inputs of one kind (texts or ids) in `batch`.
void PythonBridgeProvider::Impl::embed_kind(std::span<const SequenceRef> batch, bool texts,
                                            StageTimings& stages) {
  const std::size_t n = batch.size(), dimension = info.dimension;
  const auto start = Clock::now();
  auto response = with_retry(request_json(batch, texts), [&](const Reply& reply) {
    if (!reply.ok()) throw_service_error(reply);
    try {
      return decode(reply, n, dimension);
    } catch (const std::exception& e) {
      throw WorkerFailure(ErrorCode::Unavailable,
                          std::string("the python service's reply does not fit: ") + e.what());
    }
  });
  stages.inference_us += std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  for (std::size_t k = 0; k < n; ++k) {
    const auto row = response.embeddings.row(k);
    std::copy(row.begin(), row.end(), batch[k].out);
    if (batch[k].request->normalize) l2_normalize(batch[k].out, dimension);
  }
}

AdmittedRequest PythonBridgeProvider::admit(const EmbedRequest& request) const {
  auto admitted = impl_->admission->admit(request);
  // The service embeds the texts as sent; it has no notion of prompts.
  if (admitted.prompt)
    throw invalid_request("prompts are not supported by the python engine (use onnx or native)");
  return admitted;
}

void PythonBridgeProvider::embed_sequences(std::span<const SequenceRef> batch,
                                           StageTimings& stages) {
  std::vector<SequenceRef> texts, ids;
  for (const auto& ref : batch) (is_text(ref) ? texts : ids).push_back(ref);
  if (!texts.empty()) impl_->embed_kind(texts, true, stages);
  if (!ids.empty()) impl_->embed_kind(ids, false, stages);
}

EmbedResponse PythonBridgeProvider::embed_batch(const EmbedRequest& request) {
  const auto start = Clock::now();
  const auto admitted = admit(request);
  Embeddings vectors(admitted.size(), impl_->info.dimension);
  std::vector<SequenceRef> refs;
  for (std::size_t i = 0; i < admitted.size(); ++i)
    refs.push_back({&admitted, i, vectors.row(i).data()});
  StageTimings stages;
  embed_sequences(refs, stages);
  stages.total_us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  return make_response(admitted, std::move(vectors), stages);
}

BatchingHints PythonBridgeProvider::batching_hints() const {
  const auto& m = impl_->model->manifest;
  return {512, true, m.batch_invariant(impl_->model->variant)};
}

const Tokenizer& PythonBridgeProvider::tokenizer() const { return impl_->model->tokenizer; }

ModelInfo PythonBridgeProvider::model_info() const { return impl_->info; }

HealthStatus PythonBridgeProvider::health_check() {
  try {
    return impl_->with_retry({{"cmd", "health"}}, [](const Reply& reply) {
      if (reply.ok()) return HealthStatus{true, {}};
      const auto message = reply.error_message();
      return HealthStatus{false, message.empty() ? "health check failed" : message};
    });
  } catch (const std::exception& e) {
    return {false, e.what()};
  }
}

std::vector<pid_t> PythonBridgeProvider::worker_pids() const {
  std::vector<pid_t> pids;
  for (const auto& w : impl_->workers) pids.push_back(w->pid());
  return pids;
}

}  // namespace akidb::embed
