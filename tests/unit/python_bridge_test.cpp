// The Python bridge against real worker processes (python -m
// akidb_embed.bridge_service from the source tree's python/ folder and .venv):
// parity with OnnxProvider, supervision (crash, hang, garbage, bad start-up),
// concurrency, and a clean shutdown.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "akidb/embed/error.hpp"
#include "akidb/embed/onnx_provider.hpp"
#include "akidb/embed/python_bridge_provider.hpp"
#include "test_support.hpp"

namespace akidb::embed {

// Keeps test listings readable (gtest would print the enum's bytes).
void PrintTo(BridgeFraming framing, std::ostream* os) {
  *os << (framing == BridgeFraming::Json ? "json" : "binary");
}

namespace {

using namespace std::chrono_literals;
using test::expect_error;

PythonBridgeOptions bridge_options(BridgeFraming framing = BridgeFraming::Binary) {
  PythonBridgeOptions options;
  options.model_dir = test::model_dir();
  options.threads = 1;
  options.framing = framing;
  options.extra_args = {"--enable-test-commands", "--log-level", "warning"};
  return options;
}

OnnxProviderOptions onnx_options() {
  OnnxProviderOptions options;
  options.model_dir = test::model_dir();
  options.intra_op_threads = 1;
  return options;
}

using test::cosine;
using test::golden_texts;

EmbedResponse embed_texts(EmbeddingProvider& provider, std::vector<std::string> texts) {
  return provider.embed_batch(EmbedRequest::from_texts(std::move(texts)));
}

// A process that is gone: not in /proc, or (pid reused) not our zombie.
bool reaped(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("State:", 0) == 0) return line.find('Z') == std::string::npos;
  }
  return true;
}

std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++n;
  return n;
}

class BridgeParity : public ::testing::TestWithParam<BridgeFraming> {};

TEST_P(BridgeParity, GoldenCorpusMatchesOnnxProvider) {
  const auto texts = golden_texts();
  ASSERT_GE(texts.size(), 300u);
  OnnxProvider onnx(onnx_options());
  PythonBridgeProvider bridge(bridge_options(GetParam()));
  for (std::size_t begin = 0; begin < texts.size(); begin += 32) {
    const std::vector<std::string> batch(
        texts.begin() + static_cast<std::ptrdiff_t>(begin),
        texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), begin + 32)));
    const auto expected = embed_texts(onnx, batch);
    const auto got = embed_texts(bridge, batch);
    ASSERT_EQ(got.embeddings.rows(), batch.size());
    EXPECT_EQ(got.usage.input_tokens, expected.usage.input_tokens);
    EXPECT_EQ(got.usage.prompt_tokens, expected.usage.prompt_tokens);
    for (std::size_t i = 0; i < batch.size(); ++i)
      EXPECT_GE(cosine(got.embeddings.row(i), expected.embeddings.row(i)), 0.9999)
          << "text " << begin + i;
  }
}

INSTANTIATE_TEST_SUITE_P(Framings, BridgeParity,
                         ::testing::Values(BridgeFraming::Json, BridgeFraming::Binary),
                         [](const auto& param_info) {
                           return param_info.param == BridgeFraming::Json ? "Json" : "Binary";
                         });

TEST(PythonBridge, OptionsAndErrorsBehaveLikeOnnxProvider) {
  OnnxProvider onnx(onnx_options());
  PythonBridgeProvider bridge(bridge_options());
  const auto info = bridge.model_info();
  EXPECT_EQ(info.backend, "python");
  EXPECT_EQ(info.model, "all-MiniLM-L6-v2");
  EXPECT_EQ(info.dimension, 384u);
  EXPECT_EQ(info.max_tokens, 256u);
  EXPECT_EQ(info.execution_provider, "CPUExecutionProvider");
  EXPECT_EQ(info.variant, onnx.model_info().variant);  // both default to the manifest's
  EXPECT_TRUE(bridge.health_check().ok);

  EmbedRequest raw = EmbedRequest::from_texts({"first line", ""});
  raw.normalize = false;
  const auto expected = onnx.embed_batch(raw), got = bridge.embed_batch(raw);
  EXPECT_EQ(got.usage.input_tokens, (std::vector<std::size_t>{4, 2}));
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t k = 0; k < 384; ++k)
      EXPECT_NEAR(got.embeddings.row(i)[k], expected.embeddings.row(i)[k], 1e-4);
  }
  EmbedRequest ids;
  ids.inputs = std::vector<TokenIds>{{2034, 2240}};
  ids.normalize = false;
  EXPECT_NEAR(bridge.embed_batch(ids).embeddings.row(0)[0], expected.embeddings.row(0)[0], 1e-4);

  // Each bad request gives the same code, message and input index from both.
  std::string long_text;
  for (int i = 0; i < 400; ++i) long_text += "word ";
  EmbedRequest too_long = EmbedRequest::from_texts({"ok", long_text});
  too_long.truncate = false;
  EmbedRequest bad_id;
  bad_id.inputs = std::vector<TokenIds>{{1}, {5, 40000}};
  const std::vector<EmbedRequest> bad = {EmbedRequest::from_texts({}),
                                         EmbedRequest::from_texts({"fine", "bad \xff byte"}),
                                         too_long, bad_id};
  for (const auto& request : bad) {
    std::string onnx_message;
    std::optional<std::size_t> onnx_index;
    try {
      onnx.embed_batch(request);
      ADD_FAILURE() << "OnnxProvider accepted a bad request";
    } catch (const Error& e) {
      onnx_message = e.what();
      onnx_index = e.input_index();
    }
    try {
      bridge.embed_batch(request);
      ADD_FAILURE() << "the bridge accepted: " << onnx_message;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
      EXPECT_EQ(e.what(), onnx_message);
      EXPECT_EQ(e.input_index(), onnx_index);
    }
  }
  EXPECT_EQ(embed_texts(bridge, {"still serving"}).embeddings.rows(), 1u);
}

TEST(PythonBridge, KilledMidRequestIsRetriedOnAFreshWorker) {
  PythonBridgeProvider bridge(bridge_options());
  const pid_t first = bridge.worker_pids().at(0);
  std::thread killer([first] {
    std::this_thread::sleep_for(300ms);
    ::kill(first, SIGKILL);
  });
  try {
    // The worker sleeps 1 s before embedding, so the kill lands mid-request.
    const auto response = embed_texts(bridge, {"__akidb_test_sleep_ms:1000__"});
    EXPECT_EQ(response.embeddings.rows(), 1u);  // succeeded through the retry
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unavailable);
    EXPECT_NE(std::string(e.what()).find("signal 9"), std::string::npos) << e.what();
  }
  killer.join();
  EXPECT_TRUE(reaped(first));
  const pid_t second = bridge.worker_pids().at(0);
  EXPECT_NE(second, first);
  EXPECT_GT(second, 0);
  EXPECT_EQ(embed_texts(bridge, {"next request"}).embeddings.rows(), 1u);
}

TEST(PythonBridge, CrashOnEveryAttemptIsUnavailableNamingTheSignal) {
  PythonBridgeProvider bridge(bridge_options());
  const pid_t first = bridge.worker_pids().at(0);
  expect_error([&] { embed_texts(bridge, {"__akidb_test_crash__"}); }, ErrorCode::Unavailable,
               "python worker 0");
  EXPECT_TRUE(reaped(first));
  try {
    embed_texts(bridge, {"__akidb_test_crash__"});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("exited with signal 9 (SIGKILL)"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("retried once"), std::string::npos) << e.what();
  }
  EXPECT_EQ(embed_texts(bridge, {"fine again"}).embeddings.rows(), 1u);
}

TEST(PythonBridge, HungWorkerIsTimedOutAndReplaced) {
  auto options = bridge_options();
  options.request_timeout = 600ms;
  PythonBridgeProvider bridge(options);
  const pid_t first = bridge.worker_pids().at(0);
  expect_error([&] { embed_texts(bridge, {"__akidb_test_hang__"}); }, ErrorCode::Timeout,
               "did not answer within 600 ms");
  EXPECT_TRUE(reaped(first));
  EXPECT_NE(bridge.worker_pids().at(0), first);
  EXPECT_EQ(embed_texts(bridge, {"after the hang"}).embeddings.rows(), 1u);
}

TEST(PythonBridge, GarbageOnStdoutIsAClearErrorInBothFramings) {
  for (auto framing : {BridgeFraming::Json, BridgeFraming::Binary}) {
    auto options = bridge_options(framing);
    // A hang would last the whole request timeout; the error must come well
    // before it (the margin is wide so a loaded machine cannot fail it).
    options.request_timeout = 60s;
    PythonBridgeProvider bridge(options);
    const auto start = std::chrono::steady_clock::now();
    expect_error([&] { embed_texts(bridge, {"__akidb_test_garbage__"}); }, ErrorCode::Unavailable,
                 "sent an invalid reply");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 30s) << "a garbage reply must not hang";
    EXPECT_EQ(embed_texts(bridge, {"clean again"}).embeddings.rows(), 1u);
  }
}

TEST(PythonBridge, BadModelPathIsAModelErrorWithTheStderrTail) {
  auto options = bridge_options();
  options.model_dir = "/nonexistent/model";
  expect_error([&] { PythonBridgeProvider bridge(options); }, ErrorCode::ModelError,
               "/nonexistent/model/akidb.json");
  expect_error([&] { PythonBridgeProvider bridge(options); }, ErrorCode::ModelError,
               "exited with status 3; stderr tail:");
}

TEST(PythonBridge, MissingInterpreterIsUnavailable) {
  auto options = bridge_options();
  options.python = "/nonexistent/python";
  expect_error([&] { PythonBridgeProvider bridge(options); }, ErrorCode::Unavailable,
               "cannot start '/nonexistent/python'");
}

TEST(PythonBridge, SixteenConcurrentCallersOnTwoWorkers) {
  const auto texts = golden_texts();
  OnnxProvider onnx(onnx_options());
  auto options = bridge_options();
  options.workers = 2;
  PythonBridgeProvider bridge(options);
  ASSERT_EQ(bridge.worker_pids().size(), 2u);
  std::atomic<int> wrong{0}, failed{0};
  {
    std::vector<std::jthread> callers;
    for (std::size_t c = 0; c < 16; ++c) {
      callers.emplace_back([&, c] {
        try {
          for (std::size_t round = 0; round < 4; ++round) {
            const std::size_t first = (c * 4 + round) * 3 % texts.size();
            std::vector<std::string> batch;
            for (std::size_t k = 0; k < 1 + c % 3; ++k) batch.push_back(texts[first + k]);
            const auto got = embed_texts(bridge, batch);
            const auto expected = embed_texts(onnx, batch);
            for (std::size_t i = 0; i < batch.size(); ++i) {
              if (cosine(got.embeddings.row(i), expected.embeddings.row(i)) < 0.9999) ++wrong;
            }
          }
        } catch (const std::exception&) {
          ++failed;
        }
      });
    }
  }
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
}

TEST(PythonBridge, ShutdownLeavesNoProcessOrDescriptor) {
  const std::size_t fds_before = open_fds();
  std::vector<pid_t> pids;
  {
    auto options = bridge_options();
    options.workers = 2;
    PythonBridgeProvider bridge(options);
    pids = bridge.worker_pids();
    EXPECT_GT(open_fds(), fds_before);
    EXPECT_EQ(embed_texts(bridge, {"one", "two"}).embeddings.rows(), 2u);
  }
  for (pid_t pid : pids) EXPECT_TRUE(reaped(pid)) << pid;
  EXPECT_EQ(open_fds(), fds_before);
}

}  // namespace
}  // namespace akidb::embed
