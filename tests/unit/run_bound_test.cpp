// The watchdog's bound per engine run (src/scheduling/run_bound.hpp): pure
// arithmetic over the options and the measured speed.
#include "scheduling/run_bound.hpp"

#include <gtest/gtest.h>

namespace akidb::embed::scheduling {
namespace {

SchedulerOptions options(double floor_s, double factor, double fixed_s = 0) {
  SchedulerOptions o;
  o.watchdog_floor_s = floor_s;
  o.watchdog_factor = factor;
  o.watchdog_bound_s = fixed_s;
  return o;
}

TEST(RunBound, BeforeAnyRunItIsTheFloorTimesTheFactor) {
  const RunBound bound(options(10, 50));
  EXPECT_FALSE(bound.us_per_token());
  EXPECT_EQ(bound.seconds_for(512), 500.0);
}

TEST(RunBound, AFixedBoundIgnoresTheSpeed) {
  RunBound bound(options(10, 50, 0.25));
  bound.observe(100, 1e9);
  EXPECT_EQ(bound.seconds_for(1), 0.25);
  EXPECT_EQ(bound.seconds_for(100000), 0.25);
}

TEST(RunBound, TheFactorTimesTheExpectedTimeAboveTheFloor) {
  RunBound bound(options(2, 50));
  bound.observe(1000, 100'000);  // 100 us per padded token
  EXPECT_EQ(*bound.us_per_token(), 100.0);
  EXPECT_EQ(bound.seconds_for(100), 2.0) << "50 x 10 ms is under the floor";
  EXPECT_DOUBLE_EQ(bound.seconds_for(4096), 50 * 0.4096);
}

TEST(RunBound, ASlowerRunRaisesTheEstimateAtOnceAFasterOneLowersItByATenth) {
  RunBound bound(options(1, 10));
  bound.observe(100, 1000);  // 10 us per token
  bound.observe(100, 5000);  // 50: at once
  EXPECT_EQ(*bound.us_per_token(), 50.0);
  bound.observe(100, 1000);  // 10: a tenth of the way
  EXPECT_DOUBLE_EQ(*bound.us_per_token(), 46.0);
  bound.observe(0, 1e9);  // an empty run says nothing
  EXPECT_DOUBLE_EQ(*bound.us_per_token(), 46.0);
}

}  // namespace
}  // namespace akidb::embed::scheduling
