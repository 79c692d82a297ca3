// The scheduler over the real pipeline (tokenizer, pooling, normalization)
// with a deterministic test engine that records every batch and can be held
// mid-run. Assertions are on batch composition, order and counters, never on
// timing.
#include "akidb/embed/scheduler.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "akidb/embed/error.hpp"
#include "akidb/embed/pipeline.hpp"
#include "test_support.hpp"

namespace akidb::embed {
namespace {

using namespace std::chrono_literals;

// One engine run as the engine saw it.
struct Run {
  std::vector<std::size_t> lengths;
  std::vector<std::int32_t> first_ids;  // the first token after [CLS] of each sequence
};

// Hidden state of a token = a function of its id and position only, so a
// sequence's vector never depends on its batch-mates. Can be held mid-run.
class TestEngine final : public InferenceEngine {
 public:
  TestEngine(std::size_t dim, std::size_t budget, bool invariant, std::string device = "cpu")
      : caps_{"test", std::move(device), "none", dim, budget, true, invariant} {}

  const EngineCapabilities& capabilities() const noexcept override { return caps_; }

  void run(const SequenceBatch& batch, std::span<float> hidden) override {
    Run r;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      r.lengths.push_back(batch.length(i));
      r.first_ids.push_back(batch.length(i) > 2 ? batch.ids[batch.offsets[i] + 1] : -1);
    }
    std::unique_lock lock(mu_);
    runs_.push_back(r);
    cv_.notify_all();
    if (free_runs_ > 0) {
      --free_runs_;
    } else {
      cv_.wait(lock, [&] { return !hold_; });
    }
    if (fail_on_ >= 0 &&
        std::find(r.first_ids.begin(), r.first_ids.end(), fail_on_) != r.first_ids.end())
      throw Error(ErrorCode::Internal, "test engine failure");
    lock.unlock();
    for (std::size_t t = 0; t < batch.tokens(); ++t) {
      for (std::size_t d = 0; d < caps_.hidden_size; ++d)
        hidden[t * caps_.hidden_size + d] =
            std::sin(static_cast<float>(batch.ids[t] * 31 + static_cast<std::int32_t>(d)));
    }
  }

  void hold() {
    const std::lock_guard lock(mu_);
    hold_ = true;
  }
  // Lets the next n runs through, then holds.
  void allow(std::size_t n) {
    const std::lock_guard lock(mu_);
    hold_ = true;
    free_runs_ = n;
  }
  void release() {
    {
      const std::lock_guard lock(mu_);
      hold_ = false;
    }
    cv_.notify_all();
  }
  void fail_on(std::int32_t id) {
    const std::lock_guard lock(mu_);
    fail_on_ = id;
  }
  // Blocks until at least n runs have started.
  void await_runs(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return runs_.size() >= n; });
  }
  std::vector<Run> runs() const {
    const std::lock_guard lock(mu_);
    return runs_;
  }

 private:
  EngineCapabilities caps_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Run> runs_;
  bool hold_ = false;
  std::size_t free_runs_ = 0;
  std::int32_t fail_on_ = -1;
};

struct Fixture {
  TestEngine* engine = nullptr;
  std::unique_ptr<EmbeddingPipeline> pipeline;
  std::int32_t id_of(const std::string& word) const {
    return *pipeline->tokenizer().token_to_id(word);
  }
};

Fixture make_fixture(std::size_t budget = 512, bool invariant = true,
                     const std::string& device = "cpu") {
  auto model = LoadedModel::load(test::model_dir(), "");
  const auto dim = model.manifest.dimension;
  auto engine = std::make_unique<TestEngine>(dim, budget, invariant, device);
  Fixture f;
  f.engine = engine.get();
  f.pipeline = std::make_unique<EmbeddingPipeline>(
      PipelineParts{std::move(model), std::move(engine)}, PipelineOptions{});
  return f;
}

// Without the express lane: for tests of what waits in the queue while the
// one worker is held.
SchedulerOptions one_lane(std::size_t max_batch_sequences = 256, std::size_t max_queue = 1024) {
  SchedulerOptions options;
  options.max_batch_sequences = max_batch_sequences;
  options.max_queue = max_queue;
  options.express_max_tokens = 0;
  return options;
}

// n inputs "word word ... word" of `words` words each.
EmbedRequest repeated(const std::string& word, std::size_t n, std::size_t words) {
  std::string text;
  for (std::size_t w = 0; w < words; ++w) text += (w ? " " : "") + word;
  return EmbedRequest::from_texts(std::vector<std::string>(n, text));
}

// The index of the first run holding a sequence that starts with `id`.
std::size_t first_run_with(const std::vector<Run>& runs, std::int32_t id) {
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& ids = runs[i].first_ids;
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) return i;
  }
  return runs.size();
}

std::size_t runs_with(const std::vector<Run>& runs, std::int32_t id) {
  std::size_t n = 0;
  for (const auto& r : runs) n += std::count(r.first_ids.begin(), r.first_ids.end(), id) > 0;
  return n;
}

TEST(Scheduler, SmallRequestInterleavesWithABulkOne) {
  auto f = make_fixture(64);  // a bulk input of 30 tokens: two per batch
  Scheduler scheduler(*f.pipeline, one_lane());
  f.engine->hold();
  std::shared_ptr<Ticket> bulk;
  std::jthread bulk_client([&] { bulk = scheduler.submit(repeated("house", 20, 28)); });
  f.engine->await_runs(1);  // the bulk's first batch is running
  std::shared_ptr<Ticket> small;
  std::jthread small_client([&] { small = scheduler.submit(repeated("cat", 1, 3)); });
  while (scheduler.queued_requests() < 2) std::this_thread::sleep_for(1ms);
  f.engine->release();
  small_client.join();
  EXPECT_NO_THROW(small->wait());
  bulk_client.join();
  EXPECT_NO_THROW(bulk->wait());
  const auto runs = f.engine->runs();
  EXPECT_EQ(first_run_with(runs, f.id_of("cat")), 1u) << "the small request waits one batch";
  EXPECT_EQ(runs_with(runs, f.id_of("house")), 10u);
  EXPECT_EQ(scheduler.counters().requests, 2u);
}

TEST(Scheduler, ShortRequestTakesTheExpressLaneBesideABusyWorker) {
  auto f = make_fixture(256);            // bulk inputs of 102 tokens: two per batch, never express
  Scheduler scheduler(*f.pipeline, {});  // express lane for inputs of up to 64 tokens
  f.engine->allow(1);                    // the bulk's first batch (inline) runs; the next is held
  auto bulk = scheduler.submit(repeated("house", 20, 100));
  f.engine->await_runs(2);  // the worker holds the bulk's second batch
  f.engine->allow(1);       // one more run may pass: the express lane's
  const auto small = scheduler.embed(repeated("cat", 1, 3));
  EXPECT_EQ(small.response.embeddings.rows(), 1u) << "answered while the worker's batch is held";
  EXPECT_EQ(scheduler.counters().express_batches, 1u);
  f.engine->release();
  bulk->wait();
  EXPECT_EQ(runs_with(f.engine->runs(), f.id_of("cat")), 1u);
}

TEST(Scheduler, ExpressLaneNeverTakesLongInputs) {
  auto f = make_fixture(64);
  SchedulerOptions options;
  options.express_max_tokens = 8;
  Scheduler scheduler(*f.pipeline, options);
  f.engine->allow(1);
  auto bulk = scheduler.submit(repeated("house", 20, 28));
  f.engine->await_runs(2);
  auto medium = scheduler.submit(repeated("dog", 1, 12));  // 14 tokens: not express
  std::this_thread::sleep_for(50ms);  // an express run would start in this window
  EXPECT_EQ(f.engine->runs().size(), 2u);
  EXPECT_EQ(scheduler.counters().express_batches, 0u);
  f.engine->release();
  medium->wait();
  bulk->wait();
}

TEST(Scheduler, QueuedRequestsRunInArrivalOrder) {
  auto f = make_fixture();
  Scheduler scheduler(*f.pipeline, one_lane(1));  // one input per batch
  f.engine->hold();
  std::jthread first([&] { scheduler.submit(repeated("first", 1, 2)); });
  f.engine->await_runs(1);
  std::vector<std::shared_ptr<Ticket>> tickets;
  for (const char* word : {"dog", "cat", "bird"})
    tickets.push_back(scheduler.submit(repeated(word, 1, 2)));
  f.engine->release();
  for (auto& t : tickets) t->wait();
  const auto runs = f.engine->runs();
  EXPECT_LT(first_run_with(runs, f.id_of("dog")), first_run_with(runs, f.id_of("cat")));
  EXPECT_LT(first_run_with(runs, f.id_of("cat")), first_run_with(runs, f.id_of("bird")));
}

TEST(Scheduler, TokenBudgetIsNeverExceeded) {
  auto f = make_fixture(96);
  Scheduler scheduler(*f.pipeline, {});
  std::mt19937 rng(11);
  std::vector<std::jthread> clients;
  for (int c = 0; c < 6; ++c) {
    const std::size_t n = 1 + rng() % 12, words = 1 + rng() % 40;
    clients.emplace_back([&, n, words] { scheduler.embed(repeated("tree", n, words)); });
  }
  clients.clear();
  for (const auto& run : f.engine->runs()) {
    const auto longest = *std::max_element(run.lengths.begin(), run.lengths.end());
    EXPECT_TRUE(run.lengths.size() == 1 || longest * run.lengths.size() <= 96)
        << run.lengths.size() << " sequences of up to " << longest << " tokens";
  }
}

TEST(Scheduler, SplitOverManyBatchesGivesTheVectorsOfARequestAlone) {
  auto f = make_fixture(40);
  Scheduler scheduler(*f.pipeline, {});
  EmbedRequest request = EmbedRequest::from_texts(
      {"A man is playing a guitar.", "short", "A woman slices an onion on the kitchen table.",
       "dogs", "The quick brown fox jumps over the lazy dog near the river bank today."});
  const auto alone = f.pipeline->embed_batch(request);
  const auto scheduled = scheduler.embed(request);
  EXPECT_GT(scheduled.batches, 2u);
  ASSERT_EQ(scheduled.response.embeddings.rows(), alone.embeddings.rows());
  for (std::size_t i = 0; i < alone.embeddings.rows(); ++i) {
    const auto a = alone.embeddings.row(i), b = scheduled.response.embeddings.row(i);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin())) << "input " << i;
  }
  EXPECT_EQ(scheduled.response.usage.input_tokens, alone.usage.input_tokens);
}

TEST(Scheduler, CancelledRequestLosesItsQueuedInputs) {
  auto f = make_fixture(64);
  Scheduler scheduler(*f.pipeline, one_lane());
  f.engine->hold();
  std::shared_ptr<Ticket> blocker;
  std::jthread first([&] { blocker = scheduler.submit(repeated("first", 1, 2)); });
  f.engine->await_runs(1);
  auto bulk = scheduler.submit(repeated("house", 20, 28));
  bulk->cancel();
  f.engine->release();
  first.join();
  try {
    bulk->wait();
    FAIL() << "a cancelled request returned vectors";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unavailable);
    EXPECT_STREQ(e.what(), "the request was cancelled by its client");
  }
  EXPECT_EQ(runs_with(f.engine->runs(), f.id_of("house")), 0u);
  const auto c = scheduler.counters();
  EXPECT_EQ(c.cancelled_requests, 1u);
  EXPECT_EQ(c.cancelled_sequences, 20u);
}

TEST(Scheduler, CancellingMidRequestCostsAtMostTheRunningBatch) {
  auto f = make_fixture(64);  // two bulk inputs per batch
  Scheduler scheduler(*f.pipeline, one_lane());
  f.engine->allow(1);  // the caller's own first batch runs; the worker's next one is held
  auto ticket = scheduler.submit(repeated("house", 20, 28));
  f.engine->await_runs(2);
  ticket->cancel();
  f.engine->release();
  try {
    ticket->wait();
    FAIL() << "a cancelled request returned vectors";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unavailable);
  }
  scheduler.shutdown();
  EXPECT_EQ(runs_with(f.engine->runs(), f.id_of("house")), 2u)
      << "the batch running when it was cancelled finishes; no other starts";
  EXPECT_EQ(scheduler.counters().cancelled_sequences, 16u);
}

TEST(Scheduler, DeadlineExpiryMidRequestIsATimeout) {
  auto f = make_fixture(64);
  Scheduler scheduler(*f.pipeline, one_lane());
  f.engine->hold();
  std::jthread first([&] { scheduler.submit(repeated("first", 1, 2)); });
  f.engine->await_runs(1);
  const auto deadline = SchedulerClock::now() + 50ms;
  auto ticket = scheduler.submit(repeated("house", 20, 28), deadline);
  std::this_thread::sleep_until(deadline + 5ms);
  f.engine->release();
  first.join();
  try {
    ticket->wait();
    FAIL() << "an expired request returned vectors";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Timeout);
    EXPECT_STREQ(e.what(), "the request did not finish before its deadline");
  }
  EXPECT_EQ(runs_with(f.engine->runs(), f.id_of("house")), 0u);
  EXPECT_EQ(scheduler.counters().cancelled_sequences, 20u);
}

TEST(Scheduler, FullQueueIsUnavailableAtOnce) {
  auto f = make_fixture();
  Scheduler scheduler(*f.pipeline, one_lane(256, 1));
  f.engine->hold();
  std::jthread first([&] { scheduler.submit(repeated("first", 1, 2)); });
  f.engine->await_runs(1);
  auto queued = scheduler.submit(repeated("dog", 1, 2));
  try {
    scheduler.submit(repeated("cat", 1, 2));
    FAIL() << "a full queue took a request";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unavailable);
    EXPECT_STREQ(e.what(), "the request queue is full (1 requests); retry later");
  }
  f.engine->release();
  EXPECT_NO_THROW(queued->wait());
  EXPECT_EQ(scheduler.counters().rejected, 1u);
}

TEST(Scheduler, BadInputFailsAtAdmissionNamingTheInput) {
  auto f = make_fixture();
  Scheduler scheduler(*f.pipeline, {});
  try {
    scheduler.submit(EmbedRequest::from_texts({"fine", std::string("bad \xff byte")}));
    FAIL() << "invalid UTF-8 was admitted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    EXPECT_EQ(e.input_index(), 1u);
    EXPECT_STREQ(e.what(), "input 1: invalid UTF-8 at byte 4");
  }
  EXPECT_TRUE(f.engine->runs().empty());
}

TEST(Scheduler, EngineFailureFailsItsBatchAndTheNextRequestWorks) {
  auto f = make_fixture();
  Scheduler scheduler(*f.pipeline, {});
  f.engine->fail_on(f.id_of("cat"));
  try {
    scheduler.embed(repeated("cat", 2, 2));
    FAIL() << "the engine failure was lost";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Internal);
    EXPECT_STREQ(e.what(), "test engine failure");
  }
  EXPECT_EQ(scheduler.embed(repeated("dog", 2, 2)).response.embeddings.rows(), 2u);
}

TEST(Scheduler, BatchDependentEngineRunsOneInputPerBatch) {
  auto f = make_fixture(512, false);
  Scheduler scheduler(*f.pipeline, {});
  scheduler.embed(repeated("dog", 5, 3));
  for (const auto& run : f.engine->runs()) EXPECT_EQ(run.lengths.size(), 1u);
  EXPECT_EQ(f.engine->runs().size(), 5u);
}

TEST(Scheduler, ShutdownFinishesQueuedWork) {
  auto f = make_fixture();
  auto scheduler = std::make_unique<Scheduler>(*f.pipeline, one_lane());
  f.engine->hold();
  std::jthread first([&] { scheduler->submit(repeated("first", 1, 2)); });
  f.engine->await_runs(1);
  auto queued = scheduler->submit(repeated("dog", 3, 2));
  std::jthread stopper([&] { scheduler->shutdown(); });
  f.engine->release();
  stopper.join();
  EXPECT_EQ(queued->wait().response.embeddings.rows(), 3u);
  EXPECT_THROW(scheduler->submit(repeated("cat", 1, 2)), Error);
}

TEST(Scheduler, DimensionsAndNormalizationFollowEachRequest) {
  auto f = make_fixture();
  Scheduler scheduler(*f.pipeline, {});
  auto request = repeated("dog", 1, 2);
  request.dimensions = 8;
  const auto out = scheduler.embed(request).response.embeddings;
  ASSERT_EQ(out.dimension(), 8u);
  double norm = 0;
  for (float x : out.row(0)) norm += double{x} * x;
  EXPECT_NEAR(norm, 1.0, 1e-6);
  request.dimensions = 100000;
  EXPECT_THROW(scheduler.submit(request), Error);
}

// The batch wait (SchedulerOptions::max_batch_wait_ms). Its bounds are
// asserted with waits far from the machine's noise: a lower bound the
// scheduler must honour, an upper one 20x above the wait.
SchedulerOptions waiting(double ms, std::size_t max_batch_sequences = 256) {
  auto options = one_lane(max_batch_sequences);
  options.max_batch_wait_ms = ms;
  return options;
}

TEST(SchedulerBatchWait, DefaultsToNoWaitOnACpuAndTwoMsOnAGpu) {
  auto cpu = make_fixture();
  auto gpu = make_fixture(512, true, "cuda");
  EXPECT_EQ(Scheduler(*cpu.pipeline, {}).options().max_batch_wait_ms, 0.0);
  EXPECT_EQ(Scheduler(*gpu.pipeline, {}).options().max_batch_wait_ms, 2.0);
  EXPECT_EQ(Scheduler(*gpu.pipeline, waiting(0)).options().max_batch_wait_ms, 0.0);
}

TEST(SchedulerBatchWait, ALoneRequestWaitsForCompanyAtMostTheWait) {
  auto f = make_fixture();
  Scheduler scheduler(*f.pipeline, waiting(100));
  const auto start = SchedulerClock::now();
  const auto out = scheduler.embed(repeated("cat", 1, 3));
  const auto elapsed = SchedulerClock::now() - start;
  EXPECT_GE(out.queue_us, 100'000.0) << "it ran before the wait was over";
  EXPECT_LT(elapsed, 2s) << "it waited past the batch wait";
  EXPECT_EQ(scheduler.counters().immediate, 0u) << "a waiting scheduler runs no caller's batch";
  EXPECT_EQ(f.engine->runs().size(), 1u);
}

TEST(SchedulerBatchWait, ArrivalsWithinTheWaitJoinTheBatchAndAFullBatchWaitsNoMore) {
  auto f = make_fixture();
  Scheduler scheduler(*f.pipeline, waiting(60'000, 3));  // a minute: only a full batch runs
  const auto start = SchedulerClock::now();
  auto a = scheduler.submit(repeated("cat", 1, 3));
  auto b = scheduler.submit(repeated("dog", 1, 3));
  auto c = scheduler.submit(repeated("house", 1, 3));  // the third input fills the batch
  EXPECT_NO_THROW(a->wait());
  EXPECT_NO_THROW(b->wait());
  EXPECT_NO_THROW(c->wait());
  EXPECT_LT(SchedulerClock::now() - start, 10s);
  const auto runs = f.engine->runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].lengths.size(), 3u);
  EXPECT_EQ(scheduler.counters().merged_batches, 1u);
}

TEST(SchedulerBatchWait, ADeadlineEndsTheWaitAndDropsTheRequest) {
  auto f = make_fixture();
  Scheduler scheduler(*f.pipeline, waiting(60'000));
  const auto deadline = SchedulerClock::now() + 50ms;
  auto ticket = scheduler.submit(repeated("cat", 1, 3), deadline);
  test::expect_error([&] { ticket->wait(); }, ErrorCode::Timeout,
                     "the request did not finish before its deadline");
  EXPECT_LT(SchedulerClock::now() - deadline, 10s);
  EXPECT_EQ(scheduler.counters().cancelled_requests, 1u);
  EXPECT_TRUE(f.engine->runs().empty());
}

// The watchdog (SchedulerOptions::watchdog_*). A held test engine stands
// for a run that never returns; the bound is fixed and short. Whether the
// trip happens is asserted, never how soon: each wait has a deadline a
// minute away only so that a missing trip fails instead of hanging.
SchedulerOptions watched(double bound_s) {
  auto options = one_lane();
  options.max_batch_tokens = 16;
  options.max_batch_wait_ms = 60'000;  // a worker starts a batch only once it is full
  options.watchdog_bound_s = bound_s;
  return options;
}

constexpr auto kLiveness = 60s;
constexpr const char* kStuck = "the engine is stuck: a batch of 1 inputs (3 tokens, longest 3)";

TEST(SchedulerWatchdog, AStuckRunFailsItsRequestsTheQueueAndEveryNewSubmit) {
  auto f = make_fixture();
  std::vector<WatchdogTrip> trips;  // written on the watchdog's thread, read after shutdown
  auto scheduler =
      std::make_unique<Scheduler>(*f.pipeline, watched(0.2), Scheduler::Observer{},
                                  [&](const WatchdogTrip& trip) { trips.push_back(trip); });
  f.engine->hold();
  // "cat" alone (3 tokens) waits for company; the 14-token input cannot join
  // its batch (16 tokens), so the batch starts with "cat" alone and leaves
  // the second request queued before the stuck run begins.
  auto stuck = scheduler->submit(repeated("cat", 1, 1));
  auto queued = scheduler->submit(repeated("house", 1, 12));
  const auto deadline = SchedulerClock::now() + kLiveness;
  test::expect_error([&] { stuck->wait(deadline); }, ErrorCode::Unavailable, kStuck);
  test::expect_error([&] { queued->wait(deadline); }, ErrorCode::Unavailable, kStuck);
  test::expect_error([&] { scheduler->submit(repeated("dog", 1, 1)); }, ErrorCode::Unavailable,
                     kStuck);
  const auto health = scheduler->health();
  EXPECT_FALSE(health.ok);
  EXPECT_NE(health.message.find(kStuck), std::string::npos) << health.message;
  EXPECT_NE(health.message.find("over its bound of 0.2 s"), std::string::npos) << health.message;
  EXPECT_EQ(scheduler->queued_requests(), 0u);

  // The stuck run returns after all: nothing is settled twice, nothing changes.
  f.engine->release();
  scheduler->shutdown();
  const auto counters = scheduler->counters();
  EXPECT_EQ(counters.watchdog_trips, 1u);
  EXPECT_EQ(counters.failed_requests, 2u);
  EXPECT_EQ(counters.requests, 0u) << "the late run settled a failed request again";
  EXPECT_EQ(counters.batches, 1u);
  EXPECT_FALSE(scheduler->health().ok) << "the trip is sticky";
  ASSERT_EQ(trips.size(), 1u);
  EXPECT_EQ(trips[0].sequences, 1u);
  EXPECT_EQ(trips[0].tokens, 3u);
  EXPECT_EQ(trips[0].longest, 3u);
  EXPECT_EQ(trips[0].bound_s, 0.2);
  EXPECT_GT(trips[0].elapsed_s, 0.19);
  const auto runs = f.engine->runs();
  ASSERT_EQ(runs.size(), 1u) << "the queued request ran on a stuck engine";
  EXPECT_EQ(runs[0].lengths, std::vector<std::size_t>{3});
}

TEST(SchedulerWatchdog, NeverTripsOnRunsWithinTheirBound) {
  auto f = make_fixture(64);
  std::size_t trips = 0;
  Scheduler scheduler(*f.pipeline, {}, {}, [&](const WatchdogTrip&) { ++trips; });
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(scheduler.embed(repeated(i % 2 ? "cat" : "house", 3, 20)).response.embeddings.rows(),
              3u);
  }
  scheduler.shutdown();
  EXPECT_EQ(trips, 0u);
  EXPECT_EQ(scheduler.counters().watchdog_trips, 0u);
  EXPECT_TRUE(scheduler.health().ok);
  EXPECT_EQ(scheduler.counters().immediate, 0u) << "with the watchdog, no caller runs a batch";
}

TEST(SchedulerWatchdog, OffLetsAnIdleSchedulersCallerRunTheFirstBatch) {
  auto f = make_fixture();
  auto options = one_lane();
  options.watchdog = false;
  Scheduler scheduler(*f.pipeline, options);
  scheduler.embed(repeated("cat", 1, 1));
  EXPECT_EQ(scheduler.counters().immediate, 1u);
  EXPECT_TRUE(scheduler.health().ok);
}

// Many clients at once, with cancellations, deadlines and engine failures,
// while the express lane runs beside the worker. The invariants: every
// ticket is settled exactly once (a second settle would throw
// future_error on a scheduler thread and end the process), each by the one
// path the counters say (completed, dropped, failed), and every completed
// request has each of its inputs' own vector (none lost, none swapped).
TEST(SchedulerStress, EveryTicketResolvesOnceAndTheCountersAddUp) {
  auto f = make_fixture(160);
  const std::string long_text = [] {
    std::string t;
    for (int w = 0; w < 70; ++w) t += (w ? " house" : "house");  // 72 tokens: never express
    return t;
  }();
  const std::vector<std::string> texts = {"cat", "cat dog bird", long_text, "error"};
  f.engine->fail_on(f.id_of("error"));  // a batch holding "error" fails as a whole
  std::vector<std::vector<float>> reference;
  for (std::size_t i = 0; i + 1 < texts.size(); ++i) {
    const auto alone = f.pipeline->embed_batch(EmbedRequest::from_texts({texts[i]}));
    const auto row = alone.embeddings.row(0);
    reference.emplace_back(row.begin(), row.end());
  }
  SchedulerOptions options;  // one worker and the express lane (inputs of up to 64 tokens)
  options.max_queue = 1 << 20;
  Scheduler scheduler(*f.pipeline, options);

  struct Sent {
    std::shared_ptr<Ticket> ticket;
    std::vector<std::size_t> texts;  // indices into `texts`
  };
  constexpr std::size_t kThreads = 6, kRequests = 150;
  std::vector<std::vector<Sent>> sent(kThreads);
  std::vector<std::size_t> late_at_submit(kThreads, 0);
  {
    std::vector<std::jthread> clients;
    for (std::size_t t = 0; t < kThreads; ++t) {
      clients.emplace_back([&, t] {
        std::mt19937 rng(static_cast<unsigned>(t) + 1);
        const auto pick = [&](unsigned n) {
          return std::uniform_int_distribution<unsigned>(0, n - 1)(rng);
        };
        for (std::size_t r = 0; r < kRequests; ++r) {
          Sent one;
          std::vector<std::string> inputs;
          for (unsigned i = 0, n = 1 + pick(4); i < n; ++i) {
            const std::size_t k = pick(40) == 0 ? 3 : pick(3);
            one.texts.push_back(k);
            inputs.push_back(texts[k]);
          }
          std::optional<SchedulerClock::time_point> deadline;
          if (pick(4) == 0)
            deadline = SchedulerClock::now() + std::chrono::microseconds(pick(3000));
          try {
            one.ticket = scheduler.submit(EmbedRequest::from_texts(inputs), deadline);
          } catch (const Error& e) {
            ASSERT_EQ(e.code(), ErrorCode::Timeout) << e.what();
            ++late_at_submit[t];
            continue;
          }
          if (pick(5) == 0) {
            if (pick(2) == 0) std::this_thread::yield();
            one.ticket->cancel();
          }
          sent[t].push_back(std::move(one));
        }
      });
    }
  }
  scheduler.shutdown();  // finishes or drops everything queued; every ticket is settled now

  std::size_t completed = 0, dropped = 0, failed = 0, submitted = 0;
  for (const auto& per_thread : sent) {
    for (const auto& one : per_thread) {
      ++submitted;
      ASSERT_TRUE(one.ticket->ready_within(0ms)) << "a ticket was never settled";
      try {
        const auto out = one.ticket->wait();
        ++completed;
        ASSERT_EQ(out.response.embeddings.rows(), one.texts.size());
        for (std::size_t i = 0; i < one.texts.size(); ++i) {
          ASSERT_NE(one.texts[i], 3u) << "a request holding 'error' completed";
          const auto row = out.response.embeddings.row(i);
          const auto& want = reference[one.texts[i]];
          ASSERT_TRUE(std::equal(row.begin(), row.end(), want.begin(), want.end()))
              << "input " << i;
        }
      } catch (const Error& e) {
        const std::string what = e.what();
        if (e.code() == ErrorCode::Internal) {
          EXPECT_EQ(what, "test engine failure");
          ++failed;
        } else if (e.code() == ErrorCode::Timeout) {
          EXPECT_EQ(what, "the request did not finish before its deadline");
          ++dropped;
        } else {
          EXPECT_EQ(e.code(), ErrorCode::Unavailable) << what;
          EXPECT_EQ(what, "the request was cancelled by its client");
          ++dropped;
        }
      }
    }
  }
  const auto c = scheduler.counters();
  EXPECT_EQ(completed, c.requests);
  EXPECT_EQ(dropped, c.cancelled_requests);
  EXPECT_EQ(failed, c.failed_requests);
  EXPECT_EQ(completed + dropped + failed, submitted);
  EXPECT_EQ(c.watchdog_trips, 0u);
  EXPECT_GT(completed, 0u);
  EXPECT_GT(failed, 0u);
}

}  // namespace
}  // namespace akidb::embed
