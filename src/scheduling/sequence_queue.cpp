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

std::vector<Pick> SequenceQueue::next_batch(const BatchBudget& budget) {
  std::vector<Pick> picks;
  if (jobs_.empty()) return picks;
  // Least served first, then oldest: a request that just arrived goes ahead
  // of one that has already had many batches.
  auto by_service = jobs_;
  if (budget.max_length > 0) {
    std::erase_if(by_service,
                  [&](const auto& job) { return job->next_length() > budget.max_length; });
    if (by_service.empty()) return picks;
  }
  std::stable_sort(by_service.begin(), by_service.end(), [](const auto& a, const auto& b) {
    return a->dispatched != b->dispatched ? a->dispatched < b->dispatched : a->arrival < b->arrival;
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
