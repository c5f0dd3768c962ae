// Metric-name and fault-code alphabets (CONTRACT §1): every byte, every length limit.
#include "devices/sample.h"

#include <string>

#include "gtest/gtest.h"

namespace precall::devices {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

TEST(SampleTest, MetricNameExamples) {
  EXPECT_TRUE(IsValidMetricName("coolant_temp_c"));
  EXPECT_TRUE(IsValidMetricName("engine.rpm"));
  EXPECT_TRUE(IsValidMetricName("_"));
  EXPECT_TRUE(IsValidMetricName("a"));
  EXPECT_TRUE(IsValidMetricName("A9._"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("9lives"));
  EXPECT_FALSE(IsValidMetricName(".a"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidMetricName("a b"));
  EXPECT_FALSE(IsValidMetricName("a:b"));
  EXPECT_FALSE(IsValidMetricName(std::string("a\0", 2)));
  EXPECT_FALSE(IsValidMetricName("temp\xc2\xb0"));
}

TEST(SampleTest, MetricNameLength) {
  EXPECT_TRUE(IsValidMetricName(std::string(64, 'm')));
  EXPECT_TRUE(IsValidMetricName("_" + std::string(63, '.')));
  EXPECT_FALSE(IsValidMetricName(std::string(65, 'm')));
}

TEST(SampleTest, MetricNameAlphabetByByte) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool first = IsAlpha(c) || c == '_';
    const bool rest = IsAlpha(c) || IsDigit(c) || c == '_' || c == '.';
    EXPECT_EQ(IsValidMetricName(std::string(1, c)), first) << "byte " << b;
    EXPECT_EQ(IsValidMetricName(std::string("a") + c), rest) << "byte " << b;
  }
}

TEST(SampleTest, DtcCodeExamples) {
  EXPECT_TRUE(IsValidDtcCode("SPN110.FMI0"));
  EXPECT_TRUE(IsValidDtcCode("P0217"));
  EXPECT_TRUE(IsValidDtcCode("VENDOR:12/3+4-5_6"));
  EXPECT_TRUE(IsValidDtcCode("-"));
  EXPECT_TRUE(IsValidDtcCode("0"));
  EXPECT_FALSE(IsValidDtcCode(""));
  EXPECT_FALSE(IsValidDtcCode("P 0217"));
  EXPECT_FALSE(IsValidDtcCode("SPN110.*"));
  EXPECT_FALSE(IsValidDtcCode("P0217\n"));
  EXPECT_FALSE(IsValidDtcCode(std::string("P\0", 2)));
}

TEST(SampleTest, DtcCodeLength) {
  EXPECT_TRUE(IsValidDtcCode(std::string(kMaxDtcCodeBytes, 'P')));
  EXPECT_FALSE(IsValidDtcCode(std::string(kMaxDtcCodeBytes + 1, 'P')));
}

TEST(SampleTest, DtcCodeAlphabetByByte) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool ok = IsAlpha(c) || IsDigit(c) || c == '_' || c == '.' || c == ':' || c == '/' ||
                    c == '+' || c == '-';
    EXPECT_EQ(IsValidDtcCode(std::string(1, c)), ok) << "byte " << b;
    EXPECT_EQ(IsValidDtcCode(std::string("P1") + c), ok) << "byte " << b;
  }
}

TEST(SampleTest, ClearKeepsCapacity) {
  Sample s;
  s.reject = RejectReason::kNonFinite;
  s.has_ts = s.has_seq = s.has_model = s.has_labels = s.has_dtc = true;
  s.ts = 5;
  s.seq = 6;
  s.model = "M";
  s.labels.assign(10, {"k", "v"});
  s.metrics.assign(20, MetricValue{"m", 1});
  s.dtc.assign(5, "P1");
  const auto metrics_capacity = s.metrics.capacity();
  s.Clear();
  EXPECT_EQ(s.reject, RejectReason::kNone);
  EXPECT_FALSE(s.has_ts || s.has_seq || s.has_model || s.has_labels || s.has_dtc);
  EXPECT_EQ(s.ts, 0);
  EXPECT_EQ(s.seq, 0u);
  EXPECT_TRUE(s.model.empty());
  EXPECT_TRUE(s.labels.empty());
  EXPECT_TRUE(s.metrics.empty());
  EXPECT_TRUE(s.dtc.empty());
  EXPECT_EQ(s.metrics.capacity(), metrics_capacity);
}

}  // namespace
}  // namespace precall::devices
