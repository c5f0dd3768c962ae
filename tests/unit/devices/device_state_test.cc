// DeviceState: dedup and ordering, per-device metric-name cap, sticky model and
// labels, the DTC set (entered/left), windows through the plan, and rebinding
// to a new plan.
#include "devices/device_state.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace precall::devices {
namespace {

class DeviceStateTest : public ::testing::Test {
 protected:
  DeviceStateTest() {
    temp_ = plan_.AddMetric("temp");
    window_ = plan_.AddWindow(temp_, 60000, WindowFunc::kMax);
  }
  Sample MakeSample(int64_t ts, std::vector<MetricValue> metrics) {
    Sample s;
    s.has_ts = true;
    s.ts = ts;
    s.metrics = std::move(metrics);
    return s;
  }
  MetricPlan plan_;
  NameTable names_;
  uint32_t temp_;
  int window_;
  SampleEffects effects_;
};

TEST_F(DeviceStateTest, DuplicateAndOlderSeqAreRejected) {
  DeviceState d("acme", "d1", &plan_, &names_);
  Sample s = MakeSample(1000, {{"temp", 1}});
  s.has_seq = true;
  s.seq = 5;
  ASSERT_EQ(d.Check(s, 1000), RejectReason::kNone);
  d.Apply(s, 1000, 1000, effects_);
  EXPECT_EQ(d.Check(s, 2000), RejectReason::kDuplicate);
  s.seq = 4;
  EXPECT_EQ(d.Check(s, 2000), RejectReason::kDuplicate);
  s.seq = 6;
  EXPECT_EQ(d.Check(s, 2000), RejectReason::kNone);
  s.has_seq = false;  // samples without seq are never duplicates
  EXPECT_EQ(d.Check(s, 2000), RejectReason::kNone);
}

TEST_F(DeviceStateTest, OlderTsIsOutOfOrderButEqualTsIsFine) {
  DeviceState d("acme", "d1", &plan_, &names_);
  Sample s = MakeSample(5000, {{"temp", 1}});
  d.Apply(s, 5000, 5000, effects_);
  EXPECT_EQ(d.Check(s, 4999), RejectReason::kOutOfOrder);
  EXPECT_EQ(d.Check(s, 5000), RejectReason::kNone);
}

TEST_F(DeviceStateTest, MoreThan1024DistinctNamesPerDeviceIsTooMany) {
  DeviceState d("acme", "d1", &plan_, &names_);
  std::vector<std::string> names;
  for (int i = 0; i < 1100; ++i) names.push_back("m" + std::to_string(i));
  int64_t ts = 0;
  for (int batch = 0; batch < 4; ++batch) {  // 4 x 256 = 1024 names: all accepted
    Sample s = MakeSample(++ts, {});
    for (int i = 0; i < 256; ++i) s.metrics.push_back({names[batch * 256 + i], 1.0});
    ASSERT_EQ(d.Check(s, ts), RejectReason::kNone) << batch;
    d.Apply(s, ts, ts, effects_);
  }
  Sample known = MakeSample(++ts, {{names[0], 2.0}, {names[0], 3.0}});
  EXPECT_EQ(d.Check(known, ts), RejectReason::kNone);  // known names never count twice
  Sample fresh = MakeSample(++ts, {{names[1024], 1.0}});
  EXPECT_EQ(d.Check(fresh, ts), RejectReason::kTooManyMetrics);
}

TEST_F(DeviceStateTest, ModelAndLabelsAreSticky) {
  DeviceState d("acme", "d1", &plan_, &names_);
  Sample s = MakeSample(1, {});
  s.has_model = true;
  s.model = "EX200";
  s.has_labels = true;
  s.labels = {{"site", "north"}, {"fleet", "a"}};
  d.Apply(s, 1, 1, effects_);
  Sample later = MakeSample(2, {{"temp", 3}});
  later.has_labels = true;
  later.labels = {{"site", "south"}};
  d.Apply(later, 2, 2, effects_);
  EXPECT_TRUE(d.has_model());
  EXPECT_EQ(d.model(), "EX200");
  ASSERT_NE(d.Label("site"), nullptr);
  EXPECT_EQ(*d.Label("site"), "south");
  ASSERT_NE(d.Label("fleet"), nullptr);
  EXPECT_EQ(*d.Label("fleet"), "a");
  EXPECT_EQ(d.Label("nope"), nullptr);
}

TEST_F(DeviceStateTest, DtcSetReportsEnteredAndLeftCodes) {
  DeviceState d("acme", "d1", &plan_, &names_);
  Sample s = MakeSample(1, {});
  s.has_dtc = true;
  s.dtc = {"P0217", "SPN110.FMI0", "P0217"};
  d.Apply(s, 1, 1, effects_);
  EXPECT_EQ(effects_.entered, (std::vector<std::string>{"P0217", "SPN110.FMI0"}));
  EXPECT_TRUE(effects_.left.empty());
  EXPECT_TRUE(d.DtcActive("P0217"));
  EXPECT_TRUE(d.DtcActivePrefix("SPN110."));
  EXPECT_FALSE(d.DtcActivePrefix("SPN111"));
  EXPECT_TRUE(d.DtcActivePrefix(""));  // dtc("*"): any code

  d.Apply(s, 2, 2, effects_);  // the same set rebroadcast: nothing changes
  EXPECT_TRUE(effects_.dtc_present);
  EXPECT_TRUE(effects_.entered.empty());
  EXPECT_TRUE(effects_.left.empty());

  Sample absent = MakeSample(3, {{"temp", 1}});  // no dtc field: unchanged
  d.Apply(absent, 3, 3, effects_);
  EXPECT_FALSE(effects_.dtc_present);
  EXPECT_TRUE(d.DtcActive("P0217"));

  Sample next = MakeSample(4, {});
  next.has_dtc = true;
  next.dtc = {"SPN100.FMI1"};
  d.Apply(next, 4, 4, effects_);
  EXPECT_EQ(effects_.entered, (std::vector<std::string>{"SPN100.FMI1"}));
  EXPECT_EQ(effects_.left, (std::vector<std::string>{"P0217", "SPN110.FMI0"}));

  Sample none = MakeSample(5, {});
  none.has_dtc = true;  // [] = nothing active
  d.Apply(none, 5, 5, effects_);
  EXPECT_EQ(effects_.left, (std::vector<std::string>{"SPN100.FMI1"}));
  EXPECT_TRUE(d.dtc().empty());
}

TEST_F(DeviceStateTest, PlanMetricsFeedWindowsAndOthersAreKept) {
  DeviceState d("acme", "d1", &plan_, &names_);
  EXPECT_TRUE(std::isnan(d.Latest(temp_)));
  EXPECT_EQ(d.Window(temp_, window_, WindowFunc::kCount, 0), 0);
  d.Apply(MakeSample(1000, {{"temp", 80}, {"rpm", 1500}}), 1000, 1000, effects_);
  d.Apply(MakeSample(2000, {{"temp", 95}}), 2000, 2000, effects_);
  EXPECT_EQ(effects_.slots, (std::vector<uint32_t>{temp_}));
  EXPECT_EQ(d.Latest(temp_), 95);
  EXPECT_EQ(d.Window(temp_, window_, WindowFunc::kMax, 2000), 95);
  std::vector<std::pair<std::string, double>> all;
  d.ForEachMetric([&](std::string_view n, double v) { all.emplace_back(std::string(n), v); });
  EXPECT_EQ(all, (std::vector<std::pair<std::string, double>>{{"temp", 95}, {"rpm", 1500}}));
}

TEST_F(DeviceStateTest, RebindMovesValuesToTheNewPlan) {
  DeviceState d("acme", "d1", &plan_, &names_);
  d.Apply(MakeSample(1000, {{"temp", 80}, {"rpm", 1500}}), 1000, 1000, effects_);
  MetricPlan next;
  uint32_t rpm = next.AddMetric("rpm");
  uint32_t temp = next.AddMetric("temp");
  int w = next.AddWindow(temp, 10000, WindowFunc::kMin);
  d.Rebind(&next);
  EXPECT_EQ(d.Latest(rpm), 1500);
  EXPECT_EQ(d.Latest(temp), 80);
  EXPECT_EQ(d.Window(temp, w, WindowFunc::kMin, 1000), 80);  // retained point reshaped
}

}  // namespace
}  // namespace precall::devices
