// The JSON writer's numbers: shortest round-trip digits, plain (not
// exponent) notation where JavaScript uses it, no "-0", null for non-finite.
#include "gateway/core/json_writer.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace precall::core::json {
namespace {

std::string Double(double v) {
  std::string out;
  AppendDouble(out, v);
  return out;
}

TEST(JsonWriterTest, NumbersAreWrittenAsPeopleWriteThem) {
  EXPECT_EQ(Double(1510), "1510");
  EXPECT_EQ(Double(100000), "100000");  // not 1e+05
  EXPECT_EQ(Double(1e9), "1000000000");
  EXPECT_EQ(Double(-2500000), "-2500000");
  EXPECT_EQ(Double(107.2), "107.2");
  EXPECT_EQ(Double(0.0001), "0.0001");  // not 1e-04
  EXPECT_EQ(Double(0.000001), "0.000001");
  EXPECT_EQ(Double(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(Double(1e20), "100000000000000000000");
  EXPECT_EQ(Double(0), "0");
  EXPECT_EQ(Double(-0.0), "0");
  // Beyond JavaScript's plain range, the exponent form.
  EXPECT_EQ(Double(1e21), "1e+21");
  EXPECT_EQ(Double(1e-7), "1e-07");
  EXPECT_EQ(Double(1.7976931348623157e308), "1.7976931348623157e+308");
  EXPECT_EQ(Double(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(Double(-std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonWriterTest, EveryNumberReadsBackExactly) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> exponent(-12, 25);
  std::uniform_real_distribution<double> mantissa(-10, 10);
  for (int i = 0; i < 100000; ++i) {
    const double v = mantissa(rng) * std::pow(10.0, exponent(rng));
    const std::string text = Double(v);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text;
  }
}

}  // namespace
}  // namespace precall::core::json
