#include "scheduling/sequence_queue.hpp"

#include <algorithm>
#include <bit>

namespace akidb::embed::scheduling {
namespace {

unsigned bucket_of(std::size_t length) { return static_cast<unsigned>(std::bit_width(length)); }

// Tracks the cost of the batch being formed.
class BatchCost {
 public:
  explicit BatchCost(const BatchBudget& budget) : budget_(budget) {}

  bool fits(std::size_t length) const {
    if (count_ == 0) return true;
    if (count_ + 1 > budget_.max_sequences) return false;
    const std::size_t cost =
        budget_.padded ? std::max(longest_, length) * (count_ + 1) : real_ + length;
    return cost <= budget_.max_tokens;
  }
  void add(std::size_t length) {
    ++count_;
    real_ += length;
    longest_ = std::max(longest_, length);
  }

 private:
  const BatchBudget& budget_;
  std::size_t count_ = 0;
  std::size_t real_ = 0;
  std::size_t longest_ = 0;
};

// Past half of its time budget a job is overdue. Least-served-first alone
// lets a large request that has started wait behind every new arrival while
// the server stays saturated, until its deadline (bench/soak.py saw 504s).
bool overdue(const Job& job, SchedulerClock::time_point now) {
  return job.deadline && now - job.admitted_at >= (*job.deadline - job.admitted_at) / 2;
}

}  // namespace

void SequenceQueue::push(std::shared_ptr<Job> job) { jobs_.push_back(std::move(job)); }

std::vector<std::shared_ptr<Job>> SequenceQueue::take_dead(SchedulerClock::time_point now) {
  std::vector<std::shared_ptr<Job>> dead;
  std::erase_if(jobs_, [&](const std::shared_ptr<Job>& job) {
    const bool expired = job->deadline && *job->deadline <= now;
    if (!job->settled && !expired && !job->cancelled->load(std::memory_order_relaxed)) return false;
    dead.push_back(job);
    return true;
  });
  return dead;
}

std::vector<Pick> SequenceQueue::next_batch(const BatchBudget& budget,
                                            SchedulerClock::time_point now) {
  std::vector<Pick> picks;
  if (jobs_.empty()) return picks;
  // Overdue jobs first, oldest first; then least served first, then oldest:
  // a request that just arrived goes ahead of one that has already had many
  // batches, unless that one is running out of time.
  auto by_service = jobs_;
  if (budget.max_length > 0) {
    std::erase_if(by_service,
                  [&](const auto& job) { return job->next_length() > budget.max_length; });
    if (by_service.empty()) return picks;
  }
  std::stable_sort(by_service.begin(), by_service.end(), [now](const auto& a, const auto& b) {
    const bool a_overdue = overdue(*a, now), b_overdue = overdue(*b, now);
    if (a_overdue != b_overdue) return a_overdue;
    if (a_overdue || a->dispatched == b->dispatched) return a->arrival < b->arrival;
    return a->dispatched < b->dispatched;
  });
  const unsigned head = bucket_of(by_service.front()->next_length());
  BatchCost cost(budget);
  auto fill = [&](unsigned max_distance) {
    for (const auto& job : by_service) {
      while (job->pending() > 0) {
        const std::size_t length = job->next_length();
        const unsigned bucket = bucket_of(length);
        const unsigned distance = bucket > head ? bucket - head : head - bucket;
        if (distance > max_distance || !cost.fits(length)) break;
        if (budget.max_length > 0 && length > budget.max_length) break;
        cost.add(length);
        picks.push_back({job, job->order[job->dispatched]});
        ++job->dispatched;
      }
    }
  };
  fill(0);
  fill(1);
  std::erase_if(jobs_, [](const std::shared_ptr<Job>& job) { return job->pending() == 0; });
  return picks;
}

SchedulerClock::time_point SequenceQueue::ready_at(const BatchBudget& budget,
                                                   SchedulerClock::duration wait) const {
  BatchCost cost(budget);
  std::size_t count = 0;
  for (const auto& job : jobs_) {
    for (std::size_t k = job->dispatched; k < job->order.size(); ++k) {
      const std::size_t length = job->admitted.encodings[job->order[k]].ids.size();
      if (!cost.fits(length)) return SchedulerClock::time_point::min();  // more than a batch
      cost.add(length);
      if (++count >= budget.max_sequences) return SchedulerClock::time_point::min();
    }
  }
  auto ready = SchedulerClock::time_point::max();
  for (const auto& job : jobs_) {
    ready = std::min(ready, job->admitted_at + wait);
    if (job->deadline) ready = std::min(ready, *job->deadline);
  }
  return ready;
}

bool SequenceQueue::has_input_up_to(std::size_t max_length) const noexcept {
  return std::any_of(jobs_.begin(), jobs_.end(),
                     [&](const auto& job) { return job->next_length() <= max_length; });
}

std::size_t SequenceQueue::sequences() const noexcept {
  std::size_t total = 0;
  for (const auto& job : jobs_) total += job->pending();
  return total;
}

}  // namespace akidb::embed::scheduling
