// Tests of ParseDuration (rules/duration.h): the duration literals of rule files
// and expressions.
#include "rules/duration.h"

#include <cstdint>
#include <optional>

#include "gtest/gtest.h"

namespace precall::rules {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

TEST(DurationTest, EveryUnit) {
  EXPECT_EQ(ParseDuration("500ms"), 500);
  EXPECT_EQ(ParseDuration("30s"), 30 * kSecond);
  EXPECT_EQ(ParseDuration("10m"), 10 * kMinute);
  EXPECT_EQ(ParseDuration("2h"), 2 * kHour);
  EXPECT_EQ(ParseDuration("7d"), 7 * kDay);
}

TEST(DurationTest, ZeroAndLeadingZerosAreValid) {
  EXPECT_EQ(ParseDuration("0s"), 0);
  EXPECT_EQ(ParseDuration("0ms"), 0);
  EXPECT_EQ(ParseDuration("007m"), 7 * kMinute);
}

TEST(DurationTest, AtMostOneHundredYears) {
  EXPECT_EQ(ParseDuration("36500d"), 36500 * kDay);
  EXPECT_EQ(ParseDuration("3153600000000ms"), 36500 * kDay);
  EXPECT_EQ(ParseDuration("36501d"), std::nullopt);
  EXPECT_EQ(ParseDuration("3153600000001ms"), std::nullopt);
  // Far beyond int64: rejected, not wrapped around.
  EXPECT_EQ(ParseDuration("99999999999999999999999999999s"), std::nullopt);
}

TEST(DurationTest, RejectsAnythingElse) {
  for (const char* text : {"", "s", "5", "30 s", " 30s", "30s ", "5S", "5M", "-5s", "+5s", "1.5s",
                           "5sec", "5mss", "1m30s", "5x", "0x10s", "1e3s", "ms"}) {
    EXPECT_EQ(ParseDuration(text), std::nullopt) << "'" << text << "'";
  }
}

}  // namespace
}  // namespace precall::rules
