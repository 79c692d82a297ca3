// The scheduler's batch policy on hand-made jobs: least served first, and
// the rule that keeps a started request from starving until its deadline.
#include "scheduling/sequence_queue.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

namespace akidb::embed::scheduling {
namespace {

using namespace std::chrono_literals;

// A job of `inputs` ten-token inputs, `served` of them already dispatched.
std::shared_ptr<Job> make_job(std::uint64_t arrival, std::size_t inputs, std::size_t served,
                              SchedulerClock::time_point admitted_at,
                              SchedulerClock::time_point deadline) {
  auto job = std::make_shared<Job>();
  job->admitted.encodings.resize(inputs);
  for (auto& encoding : job->admitted.encodings) encoding.ids.assign(10, 1);
  job->plan_order();
  job->dispatched = served;
  job->arrival = arrival;
  job->admitted_at = admitted_at;
  job->deadline = deadline;
  return job;
}

const BatchBudget kOneInput{512, 1, false, 0};

TEST(SequenceQueue, LeastServedGoesFirstWhileNoJobIsOverdue) {
  const auto now = SchedulerClock::now();
  SequenceQueue queue;
  auto started = make_job(0, 4, 2, now - 1s, now + 29s);  // 1 s of 30 used
  auto fresh = make_job(1, 1, 0, now, now + 30s);
  queue.push(started);
  queue.push(fresh);
  const auto picks = queue.next_batch(kOneInput, now);
  ASSERT_EQ(picks.size(), 1U);
  EXPECT_EQ(picks[0].job, fresh);
}

TEST(SequenceQueue, AJobPastHalfItsTimeGoesAheadOfLessServedOnes) {
  const auto now = SchedulerClock::now();
  SequenceQueue queue;
  auto started = make_job(0, 4, 2, now - 20s, now + 10s);  // 20 s of 30 used
  auto fresh = make_job(1, 1, 0, now, now + 30s);
  queue.push(started);
  queue.push(fresh);
  const auto picks = queue.next_batch(kOneInput, now);
  ASSERT_EQ(picks.size(), 1U);
  EXPECT_EQ(picks[0].job, started);
  EXPECT_EQ(picks[0].index, 2U);
}

TEST(SequenceQueue, OverdueJobsGoOldestFirst) {
  const auto now = SchedulerClock::now();
  SequenceQueue queue;
  auto younger = make_job(5, 2, 0, now - 20s, now + 10s);
  auto older = make_job(3, 2, 1, now - 25s, now + 5s);
  queue.push(younger);
  queue.push(older);
  const auto picks = queue.next_batch(kOneInput, now);
  ASSERT_EQ(picks.size(), 1U);
  EXPECT_EQ(picks[0].job, older);
}

// ready_at: when a batch may start under a batch wait.
TEST(SequenceQueue, ABatchThatIsNotFullIsReadyAtTheOldestArrivalPlusTheWait) {
  const auto now = SchedulerClock::now();
  SequenceQueue queue;
  queue.push(make_job(0, 1, 0, now - 1ms, now + 30s));
  queue.push(make_job(1, 1, 0, now, now + 30s));
  EXPECT_EQ(queue.ready_at({512, 256, false, 0}, 2ms), now + 1ms);  // from the oldest, not now
}

TEST(SequenceQueue, AFullBatchIsReadyAtOnce) {
  const auto now = SchedulerClock::now();
  SequenceQueue by_sequences, by_tokens;
  by_sequences.push(make_job(0, 4, 0, now, now + 30s));  // 4 inputs, 4 per batch
  EXPECT_EQ(by_sequences.ready_at({512, 4, false, 0}, 2ms), SchedulerClock::time_point::min());
  by_tokens.push(make_job(0, 6, 0, now, now + 30s));  // 60 tokens, 50 per batch
  EXPECT_EQ(by_tokens.ready_at({50, 256, false, 0}, 2ms), SchedulerClock::time_point::min());
  EXPECT_EQ(by_tokens.ready_at({60, 256, false, 0}, 2ms), now + 2ms);  // exactly one batch
}

TEST(SequenceQueue, AnEarlierDeadlineEndsTheWait) {
  const auto now = SchedulerClock::now();
  SequenceQueue queue;
  queue.push(make_job(0, 1, 0, now, now + 30s));
  queue.push(make_job(1, 1, 0, now, now + 1ms));
  EXPECT_EQ(queue.ready_at({512, 256, false, 0}, 2ms), now + 1ms);
}

}  // namespace
}  // namespace akidb::embed::scheduling
