// Time compression: event time runs `speed` times faster than wall time but
// never more than the cap ahead of it, and WallAt inverts EventAt.
#include "devices/simulator/sim_clock.h"

#include "gtest/gtest.h"

namespace precall::sim {
namespace {

constexpr int64_t kWall = 1'795'849'200'000;
constexpr int64_t kHour = 3'600'000;

TEST(SimClockTest, SpeedOneIsWallTimeShiftedToTheStart) {
  SimClock clock(kWall, kWall - 5000, 1.0);
  EXPECT_EQ(clock.EventAt(kWall), kWall - 5000);
  EXPECT_EQ(clock.EventAt(kWall + 1234), kWall - 5000 + 1234);
  EXPECT_EQ(clock.WallAt(kWall - 5000 + 1234), kWall + 1234);
}

TEST(SimClockTest, CompressesEventTime) {
  SimClock clock(kWall, kWall, 30.0);
  EXPECT_EQ(clock.EventAt(kWall + 1000), kWall + 30'000);
  EXPECT_EQ(clock.WallAt(kWall + 30'000), kWall + 1000);
  EXPECT_EQ(clock.WallAt(kWall + 30'001), kWall + 1001) << "rounds up: never early";
}

TEST(SimClockTest, NeverRunsMoreThanTheCapAheadOfWallTime) {
  SimClock clock(kWall, kWall, 100.0);  // default cap 23 h
  // 23 h of lead take 23 h / 99 of wall time; after that, wall speed.
  const int64_t reached = kWall + 23 * kHour / 99 + 1;
  EXPECT_EQ(clock.EventAt(reached) - reached, 23 * kHour);
  EXPECT_EQ(clock.EventAt(reached + 10 * kHour) - (reached + 10 * kHour), 23 * kHour);
  EXPECT_LE(clock.EventAt(kWall + 48 * kHour) - (kWall + 48 * kHour), 24 * kHour);
  // The inverse follows both pieces.
  for (int64_t ts : {kWall + kHour, kWall + 23 * kHour, kWall + 30 * kHour, kWall + 90 * kHour}) {
    const int64_t w = clock.WallAt(ts);
    EXPECT_GE(clock.EventAt(w), ts);
    EXPECT_LT(clock.EventAt(w - 1), ts);
  }
}

TEST(SimClockTest, SlowerThanWallTime) {
  SimClock clock(kWall, kWall, 0.5);
  EXPECT_EQ(clock.EventAt(kWall + 2000), kWall + 1000);
  EXPECT_EQ(clock.WallAt(kWall + 1000), kWall + 2000);
}

}  // namespace
}  // namespace precall::sim
