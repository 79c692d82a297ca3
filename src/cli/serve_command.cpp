// `akidb-embed serve`: the HTTP API (see src/server/http_server.hpp).
//
// Signals: SIGINT and SIGTERM are blocked in every thread before any thread
// starts (the mask is inherited), and one watcher thread takes them with
// sigtimedwait() and asks the server to stop. No signal handler runs, so no
// global state is needed at all.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "akidb/embed/error.hpp"
#include "cli/common.hpp"
#include "cli/drain_deadline.hpp"
#include "cli/serve_models.hpp"
#include "server/http_server.hpp"

namespace akidb::embed::cli {
namespace {

struct ServeOptions {
  ModelOptions model;               // the engine flags every model starts from
  std::vector<std::string> models;  // --model, repeatable: DIR or NAME=DIR
  std::string models_file;
  server::ServerOptions server;
  server::TransportOptions transport;
  long request_timeout_ms = 30000;
  long io_timeout_s = 10;
  long keep_alive_timeout_s = 5;
  std::string log_format = "text";
  bool no_spinning = false;
  double drain_timeout_s = 30;
};

// Blocks SIGINT/SIGTERM in the calling thread (and threads it starts later);
// a watcher thread calls `on_signal` when one arrives.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SignalWatcher() {
    stop();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // Stops watching (pending signals stay blocked until destruction).
  void stop() { thread_ = {}; }  // requests stop and joins

  void start(std::function<void(int)> on_signal) {
    thread_ = std::jthread([this, on_signal](std::stop_token stop) {
      const timespec tick{0, 100'000'000};
      while (!stop.stop_requested()) {
        const int sig = sigtimedwait(&set_, nullptr, &tick);
        if (sig > 0) on_signal(sig);
      }
    });
  }

 private:
  sigset_t set_{};
  sigset_t old_{};
  std::jthread thread_;
};

// Loads every model once, in order (the first is the default), refusing two
// of one public name before loading the next.
std::vector<server::ModelAttachment> load_models(
    const ServeOptions& options, std::vector<std::unique_ptr<EmbeddingProvider>>& providers) {
  auto base = provider_options(options.model);
  base.allow_spinning = !options.no_spinning;
  const auto specs =
      serve_models(options.models, options.models_file, base, options.server.scheduling,
                   options.model.provider.model_dir.string());
  std::vector<server::ModelAttachment> out;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const auto& spec = specs[i];
    providers.push_back(akidb::embed::make_provider(spec.provider));
    const auto name = spec.name.empty() ? providers.back()->model_info().model : spec.name;
    for (std::size_t j = 0; j < names.size(); ++j) {
      if (names[j] != name) continue;
      throw Error(ErrorCode::ModelError,
                  "two served models are named '" + name + "' (" + specs[j].origin + " and " +
                      spec.origin +
                      "); give one of them another name: --model NAME=DIR, or \"name\" in "
                      "--models-file");
    }
    names.push_back(name);
    out.push_back({providers.back().get(), spec.name, spec.scheduling});
  }
  return out;
}

void run_serve(ServeOptions& options) {
  auto& o = options.server;
  o.request_timeout = std::chrono::milliseconds(options.request_timeout_ms);
  o.io_timeout = std::chrono::seconds(options.io_timeout_s);
  o.keep_alive_timeout = std::chrono::seconds(options.keep_alive_timeout_s);
  options.transport.log_format = server::parse_log_format(options.log_format);
  const server::ServerLog log(options.transport.log_format);

  SignalWatcher signals;  // before any thread starts
  // Destroyed after everything below it: a stop that blocks anywhere (a
  // stuck engine run holds a worker's join) still ends in time.
  DrainDeadline drain_deadline(std::chrono::duration<double>(options.drain_timeout_s), log);
  std::vector<std::unique_ptr<EmbeddingProvider>> providers;  // outlive the server
  server::HttpServer http(o, options.transport);
  const int port = http.bind();
  std::jthread listener([&] { http.listen(); });
  // The watcher calls into `http`: stop it before `http` goes away, on every path.
  const std::unique_ptr<SignalWatcher, void (*)(SignalWatcher*)> watching(
      &signals, [](SignalWatcher* w) { w->stop(); });
  for (int waited_ms = 0; !http.running(); ++waited_ms) {
    if (waited_ms == 5000) {
      http.stop();  // harmless if it never ran; the listener then returns
      throw Error(ErrorCode::Unavailable, "the HTTP server did not start listening");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  signals.start([&](int sig) {
    log.info(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") + ": finishing in-flight requests");
    drain_deadline.arm();
    http.stop();
  });
  try {
    http.attach(load_models(options, providers));
  } catch (...) {
    http.stop();
    listener.join();
    http.drain();
    throw;
  }
  const auto info = providers.front()->model_info();
  const auto url = "http://" + o.host + ":" + std::to_string(port);
  std::string more;
  if (providers.size() > 1) more = "; " + std::to_string(providers.size()) + " models served";
  log.write("info",
            "listening on " + url + " (model " + info.model + ", dimension " +
                std::to_string(info.dimension) + more + ")",
            {}, stdout);
  listener.join();  // returns once stop() was called and in-flight requests are done
  http.drain();
  log.info("stopped");
}

template <class T>
void add(CLI::App& cmd, const std::string& flag, T& value, const std::string& env,
         const std::string& help) {
  cmd.add_option(flag, value, help)->envname(env)->capture_default_str();
}

}  // namespace

void register_serve(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand(
      "serve", "HTTP embedding server: OpenAI /v1/embeddings, TEI /embed, /tokenize, /metrics");
  add_model_options(*cmd, options->model);
  // serve takes several: --model is repeatable here (the default stays the
  // one add_model_options() names).
  cmd->remove_option(cmd->get_option("--model"));
  cmd->add_option("--model", options->models,
                  "model directory, or NAME=DIR to serve it as NAME; repeat it to serve several "
                  "(the first is the default: TEI's routes and requests without 'model' use it; "
                  "default: " +
                      options->model.provider.model_dir.string() + ")")
      ->envname("AKIDB_MODEL_DIR");
  cmd->add_option("--models-file", options->models_file,
                  "JSON list of models to serve after those of --model: {\"models\": [{\"path\": "
                  "DIR, \"name\", \"engine\", \"variant\", \"max_queue\", ...}]} "
                  "(docs/server.md)")
      ->envname("AKIDB_MODELS_FILE");
  auto& o = options->server;
  auto& b = o.scheduling;
  auto& l = o.limits;
  add(*cmd, "--host", o.host, "AKIDB_HOST", "address to listen on");
  add(*cmd, "--port", o.port, "AKIDB_PORT", "port to listen on (0: any free port)");
  add(*cmd, "--max-batch-tokens", b.max_batch_tokens, "AKIDB_MAX_BATCH_TOKENS",
      "tokens per scheduled batch across requests, padded for onnx (0: the engine's preferred "
      "size, 512 for onnx on a CPU; smaller keeps short requests' waits short)");
  add(*cmd, "--max-batch-sequences", b.max_batch_sequences, "AKIDB_MAX_BATCH_SEQUENCES",
      "inputs per scheduled batch");
  add(*cmd, "--express-max-tokens", b.express_max_tokens, "AKIDB_EXPRESS_MAX_TOKENS",
      "inputs up to this many tokens may run beside a busy worker's batch, so short requests "
      "do not wait for long ones (0: off)");
  add(*cmd, "--max-batch-wait-ms", b.max_batch_wait_ms, "AKIDB_MAX_BATCH_WAIT_MS",
      "a worker with less than a batch queued waits up to this long (from the oldest queued "
      "request's arrival) for more (-1: 2 on a GPU, 0 on a CPU)");
  add(*cmd, "--max-queue", b.max_queue, "AKIDB_MAX_QUEUE",
      "requests with queued inputs before 503 + Retry-After");
  add(*cmd, "--batch-workers", b.workers, "AKIDB_BATCH_WORKERS",
      "batches run at once (the engine already uses every core)");
  add(*cmd, "--watchdog-floor-s", b.watchdog_floor_s, "AKIDB_WATCHDOG_FLOOR_S",
      "watchdog: an engine run is stuck after max(this, --watchdog-factor x its expected time at "
      "the measured speed); the model then answers 503 until restarted (docs/server.md)");
  add(*cmd, "--watchdog-factor", b.watchdog_factor, "AKIDB_WATCHDOG_FACTOR",
      "watchdog: how many times its expected time a run may take");
  add(*cmd, "--watchdog-bound-s", b.watchdog_bound_s, "AKIDB_WATCHDOG_BOUND_S",
      "watchdog: a fixed bound for every engine run instead (0: derived from the measured speed)");
  add(*cmd, "--drain-timeout-s", options->drain_timeout_s, "AKIDB_DRAIN_TIMEOUT_S",
      "after SIGTERM/SIGINT, seconds to finish in-flight work; past it (an engine run that "
      "never returns) the server logs it and exits with status 3");
  add(*cmd, "--max-inputs", l.max_inputs, "AKIDB_MAX_INPUTS", "inputs per request");
  add(*cmd, "--max-input-chars", l.max_input_chars, "AKIDB_MAX_INPUT_CHARS",
      "characters (or token ids) per input");
  add(*cmd, "--max-body-bytes", o.max_body_bytes, "AKIDB_MAX_BODY_BYTES", "request body limit");
  add(*cmd, "--request-timeout-ms", options->request_timeout_ms, "AKIDB_REQUEST_TIMEOUT_MS",
      "per-request timeout (504 after it)");
  add(*cmd, "--http-threads", o.http_threads, "AKIDB_HTTP_THREADS",
      "handler threads: requests answered (or waiting in the scheduler) at once; connections "
      "do not hold one");
  auto& t = options->transport;
  add(*cmd, "--io-threads", t.io_threads, "AKIDB_IO_THREADS",
      "threads running every socket (reads, writes, deadlines)");
  add(*cmd, "--max-connections", t.max_connections, "AKIDB_MAX_CONNECTIONS",
      "open connections; beyond it a new one gets 503 + Retry-After and is closed");
  add(*cmd, "--io-timeout", options->io_timeout_s, "AKIDB_IO_TIMEOUT",
      "seconds to read a request's headers, its body, or write a response (408 after)");
  add(*cmd, "--keep-alive-timeout", options->keep_alive_timeout_s, "AKIDB_KEEP_ALIVE_TIMEOUT",
      "seconds an idle keep-alive connection stays open");
  add(*cmd, "--cors-allow-origin", t.operations.cors_allow_origin, "AKIDB_CORS_ALLOW_ORIGIN",
      "allow browser calls from this origin ('*': any); off when empty");
  add(*cmd, "--access-log", t.operations.access_log, "AKIDB_ACCESS_LOG",
      "JSON-lines access log: a file, or '-' for standard output; off when empty");
  cmd->add_option("--log-format", options->log_format, "the server's own log lines")
      ->envname("AKIDB_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_flag("--no-spinning", options->no_spinning,
                "stop ONNX Runtime's intra-op threads from spinning between runs (frees the cores "
                "for HTTP threads and other processes)")
      ->envname("AKIDB_NO_SPINNING");
  cmd->add_option("--api-key", o.api_key, "require 'Authorization: Bearer KEY' (not on /health)")
      ->envname("AKIDB_API_KEY");
  cmd->callback([options] { run_serve(*options); });
}

}  // namespace akidb::embed::cli
