// DynamicBatcher: merging, ordering, options isolation, backpressure,
// cancellation and the idle rule, over a deterministic test-only provider.
// Assertions are on batch composition and counters, never on timing.
#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "akidb/embed/batcher.hpp"
#include "akidb/embed/error.hpp"

namespace akidb::embed {
namespace {

constexpr std::size_t kDim = 4;

// What one embed_batch call received.
struct Call {
  std::size_t inputs = 0;
  bool ids = false;
  bool truncate = true;
  bool normalize = true;
};

// Deterministic per-row vectors; can hold calls until released.
class FakeProvider final : public EmbeddingProvider {
 public:
  EmbedResponse embed_batch(const EmbedRequest& request) override {
    std::unique_lock lock(mu_);
    calls_.push_back({request.size(), std::holds_alternative<std::vector<TokenIds>>(request.inputs),
                      request.truncate, request.normalize});
    cv_.notify_all();
    cv_.wait(lock, [&] { return !hold_; });
    lock.unlock();
    EmbedResponse response;
    response.embeddings = Embeddings(request.size(), kDim);
    for (std::size_t i = 0; i < request.size(); ++i) {
      const auto seed = seed_of(request, i);
      auto row = response.embeddings.row(i);
      for (std::size_t j = 0; j < kDim; ++j) row[j] = static_cast<float>(seed + j + 1);
      if (request.normalize) normalize(row);
      response.usage.input_tokens.push_back(seed + 2);
      response.usage.prompt_tokens += seed + 2;
    }
    return response;
  }
  ModelInfo model_info() const override { return {"fake", kDim, 256, "fake", "none", "fp32"}; }
  HealthStatus health_check() override { return {true, {}}; }

  static std::size_t seed_of(const EmbedRequest& request, std::size_t i) {
    if (const auto* texts = std::get_if<std::vector<std::string>>(&request.inputs)) {
      if ((*texts)[i] == "bad") throw invalid_input(i, "bad text");
      return (*texts)[i].size();
    }
    return std::get<std::vector<TokenIds>>(request.inputs)[i].size() * 100;
  }
  static void normalize(std::span<float> row) {
    float sum = 0;
    for (float x : row) sum += x * x;
    for (float& x : row) x /= std::sqrt(sum);
  }

  void hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      hold_ = false;
    }
    cv_.notify_all();
  }
  void wait_calls(std::size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return calls_.size() >= n; });
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  std::vector<Call> calls_;
};

EmbedRequest texts(std::vector<std::string> t, bool normalize = true, bool truncate = true) {
  auto r = EmbedRequest::from_texts(std::move(t));
  r.normalize = normalize;
  r.truncate = truncate;
  return r;
}

void wait_depth(const DynamicBatcher& b, std::size_t n) {
  while (b.queue_depth() < n) std::this_thread::yield();
}

// Keeps the single worker slot busy with one request (submitted from its own
// thread: an idle batcher runs it on the submitting thread) so others queue up.
std::jthread occupy(DynamicBatcher& b, FakeProvider& p) {
  const auto before = p.calls().size();
  p.hold();
  std::jthread t([&b] { b.embed(texts({"x"})); });
  p.wait_calls(before + 1);
  return t;
}

const auto kNever = std::chrono::hours(1);

TEST(Batcher, IdleRequestIsDispatchedAtOnce) {
  FakeProvider provider;
  BatcherOptions options;
  options.max_wait = kNever;  // would hang the test if the idle rule were broken
  DynamicBatcher batcher(provider, options);
  auto result = batcher.embed(texts({"hello"}));
  EXPECT_EQ(result.batch_requests, 1U);
  EXPECT_EQ(batcher.counters().immediate, 1U);
  EXPECT_EQ(batcher.counters().batches, 1U);
}

TEST(Batcher, MergesQueuedRequestsAndKeepsOrder) {
  FakeProvider provider;
  DynamicBatcher batcher(provider, {});
  auto first = occupy(batcher, provider);
  std::vector<std::shared_ptr<BatchTicket>> tickets;
  for (std::size_t i = 0; i < 10; ++i) {
    tickets.push_back(batcher.submit(texts({std::string(i + 1, 'a'), std::string(i + 20, 'b')})));
  }
  wait_depth(batcher, 10);
  provider.release();
  first.join();
  for (std::size_t i = 0; i < tickets.size(); ++i) {
    auto r = tickets[i]->wait();
    EXPECT_EQ(r.batch_requests, 10U);
    ASSERT_EQ(r.response.embeddings.rows(), 2U);
    EXPECT_EQ(r.response.usage.input_tokens[0], i + 3);
    EXPECT_EQ(r.response.usage.input_tokens[1], i + 22);
    EXPECT_EQ(r.response.usage.prompt_tokens, 2 * i + 25);
    // Same vector as the provider gives the text alone.
    auto alone = provider.embed_batch(texts({std::string(i + 1, 'a')}));
    for (std::size_t j = 0; j < kDim; ++j) {
      EXPECT_FLOAT_EQ(r.response.embeddings.row(0)[j], alone.embeddings.row(0)[j]);
    }
  }
  const auto calls = provider.calls();
  ASSERT_GE(calls.size(), 2U);
  EXPECT_EQ(calls[1].inputs, 20U);
  EXPECT_EQ(batcher.counters().merged_batches, 1U);
}

TEST(Batcher, OnlyMergesRequestsWithIdenticalOptions) {
  FakeProvider provider;
  DynamicBatcher batcher(provider, {});
  auto first = occupy(batcher, provider);
  std::vector<std::shared_ptr<BatchTicket>> tickets;
  for (int k = 0; k < 3; ++k) {
    tickets.push_back(batcher.submit(texts({"n"}, true, true)));
    tickets.push_back(batcher.submit(texts({"u"}, false, true)));
    tickets.push_back(batcher.submit(texts({"s"}, true, false)));
    EmbedRequest ids;
    ids.inputs = std::vector<TokenIds>{{5, 6}};
    tickets.push_back(batcher.submit(std::move(ids)));
  }
  wait_depth(batcher, 12);
  provider.release();
  first.join();
  for (auto& t : tickets) EXPECT_EQ(t->wait().batch_requests, 3U);
  const auto calls = provider.calls();
  ASSERT_EQ(calls.size(), 5U);  // the occupier + one merged call per option set
  for (std::size_t i = 1; i < calls.size(); ++i) EXPECT_EQ(calls[i].inputs, 3U);
  // An un-normalized request got an un-normalized vector.
  auto plain = batcher.embed(texts({"u"}, false, true));
  EXPECT_FLOAT_EQ(plain.response.embeddings.row(0)[0], 2.0F);
}

TEST(Batcher, RespectsTokenAndRequestBudgets) {
  FakeProvider provider;
  BatcherOptions options;
  options.max_batch_tokens = 50;  // padded: inputs * longest; 2 * 20 fits, 3 * 20 does not
  options.max_batch_requests = 3;
  DynamicBatcher batcher(provider, options, {}, [](std::string_view t) { return t.size(); });
  auto first = occupy(batcher, provider);
  std::vector<std::shared_ptr<BatchTicket>> tickets;
  for (int i = 0; i < 8; ++i) tickets.push_back(batcher.submit(texts({std::string(20, 'a')})));
  wait_depth(batcher, 8);
  provider.release();
  first.join();
  for (auto& t : tickets) t->wait();
  for (const auto& call : provider.calls()) EXPECT_LE(call.inputs, 2U);
  EXPECT_EQ(batcher.counters().max_batch_requests, 2U);

  // The request cap binds when the token budget does not.
  options.max_batch_tokens = 10000;
  DynamicBatcher capped(provider, options, {}, [](std::string_view t) { return t.size(); });
  auto again = occupy(capped, provider);
  for (auto& t : tickets) t = capped.submit(texts({std::string(20, 'a')}));
  wait_depth(capped, 8);
  provider.release();
  again.join();
  for (auto& t : tickets) EXPECT_LE(t->wait().batch_requests, 3U);
  EXPECT_EQ(capped.counters().max_batch_requests, 3U);
}

TEST(Batcher, GroupsByLengthBucketFirst) {
  FakeProvider provider;
  BatcherOptions options;
  options.max_batch_tokens = 1000;  // estimates are capped at the model's 256 tokens
  DynamicBatcher batcher(provider, options, {}, [](std::string_view t) { return t.size(); });
  auto first = occupy(batcher, provider);
  // short, long, short, long ...: 4 shorts fit with the head; longs go next.
  std::vector<std::shared_ptr<BatchTicket>> tickets;
  for (int i = 0; i < 8; ++i) {
    tickets.push_back(batcher.submit(texts({std::string(i % 2 ? 600 : 10, 'a')})));
  }
  wait_depth(batcher, 8);
  provider.release();
  first.join();
  std::vector<std::size_t> sizes;
  for (auto& t : tickets) sizes.push_back(t->wait().batch_requests);
  // The 4 short ones share a batch (a long one would make it 5 * 256 > 1000);
  // long ones fit 3 per 1000 tokens.
  EXPECT_EQ(sizes[0], 4U);
  EXPECT_EQ(sizes[6], 4U);
  EXPECT_EQ(sizes[1], 3U);
  EXPECT_EQ(sizes[7], 1U);
}

TEST(Batcher, FullQueueIsUnavailableAtOnce) {
  FakeProvider provider;
  BatcherOptions options;
  options.max_queue = 2;
  DynamicBatcher batcher(provider, options);
  auto first = occupy(batcher, provider);
  auto a = batcher.submit(texts({"a"}));
  auto b = batcher.submit(texts({"b"}));
  try {
    batcher.submit(texts({"c"}));
    FAIL() << "expected Unavailable";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Unavailable);
  }
  EXPECT_EQ(batcher.counters().rejected, 1U);
  provider.release();
  first.join();
  a->wait();
  b->wait();
  batcher.embed(texts({"after"}));  // recovered
}

TEST(Batcher, CancelledRequestIsSkipped) {
  FakeProvider provider;
  DynamicBatcher batcher(provider, {});
  auto first = occupy(batcher, provider);
  auto gone = batcher.submit(texts({"gone"}));
  auto kept = batcher.submit(texts({"kept"}));
  gone->cancel();
  provider.release();
  first.join();
  EXPECT_EQ(kept->wait().batch_requests, 1U);
  EXPECT_THROW(gone->wait(), Error);
  EXPECT_EQ(batcher.counters().cancelled, 1U);
  EXPECT_EQ(batcher.counters().requests, 2U);  // the occupier and "kept"
}

TEST(Batcher, DeadlinePassedInQueueIsTimeout) {
  FakeProvider provider;
  DynamicBatcher batcher(provider, {});
  auto first = occupy(batcher, provider);
  const auto soon = BatchClock::now() + std::chrono::milliseconds(1);
  auto late = batcher.submit(texts({"late"}), soon);
  try {
    late->wait(soon);
    FAIL() << "expected Timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Timeout);
  }
  provider.release();
  first.join();
  batcher.embed(texts({"next"}));
  EXPECT_EQ(batcher.counters().cancelled, 1U);
}

TEST(Batcher, BadInputInMergedBatchOnlyFailsItsRequest) {
  FakeProvider provider;
  DynamicBatcher batcher(provider, {});
  auto first = occupy(batcher, provider);
  auto good = batcher.submit(texts({"good", "fine"}));
  auto bad = batcher.submit(texts({"ok", "bad"}));
  auto good2 = batcher.submit(texts({"also good"}));
  wait_depth(batcher, 3);
  provider.release();
  first.join();
  EXPECT_EQ(good->wait().response.embeddings.rows(), 2U);
  EXPECT_EQ(good2->wait().response.embeddings.rows(), 1U);
  try {
    bad->wait();
    FAIL() << "expected InvalidInput";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidInput);
    ASSERT_TRUE(e.input_index().has_value());
    EXPECT_EQ(*e.input_index(), 1U);
  }
}

TEST(Batcher, ObserverSeesBatchSizesAndShutdownDrains) {
  FakeProvider provider;
  std::mutex mu;
  std::vector<BatchStats> seen;
  auto batcher = std::make_unique<DynamicBatcher>(provider, BatcherOptions{}, [&](const auto& s) {
    std::lock_guard lock(mu);
    seen.push_back(s);
  });
  auto first = occupy(*batcher, provider);
  auto a = batcher->submit(texts({"aa", "bb"}));
  auto b = batcher->submit(texts({"cc"}));
  wait_depth(*batcher, 2);
  provider.release();
  batcher->shutdown();  // finishes what is queued
  EXPECT_EQ(a->wait().batch_requests, 2U);
  EXPECT_THROW(batcher->submit(texts({"late"})), Error);
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[1].requests, 2U);
  EXPECT_EQ(seen[1].inputs, 3U);
  EXPECT_EQ(seen[1].tokens, 12U);
}

TEST(Batcher, EmptyRequestIsInvalid) {
  FakeProvider provider;
  DynamicBatcher batcher(provider, {});
  EXPECT_THROW(batcher.submit(texts({})), Error);
}

TEST(Batcher, PastDeadlineIsTimeoutEvenWhenIdle) {
  FakeProvider provider;
  DynamicBatcher batcher(provider, {});
  try {
    batcher.submit(texts({"late"}), BatchClock::now() - std::chrono::seconds(1));
    FAIL() << "expected Timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Timeout);
  }
  EXPECT_TRUE(provider.calls().empty());
}

}  // namespace
}  // namespace akidb::embed
