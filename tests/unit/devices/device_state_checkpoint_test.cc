// DeviceState checkpoints: a restored state answers every read and every
// acceptance check exactly as the original did, then evolves identically; a
// checkpoint survives a change of plan; a malformed blob is refused, never a
// crash.
#include <cmath>
#include <string>
#include <vector>

#include "devices/device_state.h"
#include "gtest/gtest.h"

namespace precall::devices {
namespace {

constexpr WindowFunc kFuncs[] = {WindowFunc::kAvg,   WindowFunc::kMin,    WindowFunc::kMax,
                                 WindowFunc::kSum,   WindowFunc::kCount,  WindowFunc::kStddev,
                                 WindowFunc::kDelta, WindowFunc::kRate};

class DeviceStateCheckpointTest : public ::testing::Test {
 protected:
  DeviceStateCheckpointTest() {
    temp_ = plan_.AddMetric("temp");
    short_ = plan_.AddWindow(temp_, 10000, WindowFunc::kMin);
    long_ = plan_.AddWindow(temp_, 60000, WindowFunc::kMax);
    rpm_ = plan_.AddMetric("rpm");  // no window
  }
  Sample At(int64_t ts, uint64_t seq, double temp) {
    Sample s;
    s.has_ts = true;
    s.ts = ts;
    s.has_seq = true;
    s.seq = seq;
    s.metrics = {{"temp", temp}, {"rpm", 1000 + temp}, {"fuel", temp / 2}};
    return s;
  }
  void Apply(DeviceState& d, const Sample& s) { d.Apply(s, s.ts, s.ts + 5, effects_); }
  void ExpectSameReads(DeviceState& a, DeviceState& b, int64_t now) {
    for (int window : {short_, long_}) {
      for (WindowFunc f : kFuncs) {
        // Each window keeps only the deque the plan asked for.
        if ((f == WindowFunc::kMax && window == short_) || (f == WindowFunc::kMin && window == long_)) {
          continue;
        }
        const double x = a.Window(temp_, window, f, now);
        const double y = b.Window(temp_, window, f, now);
        if (std::isnan(x)) {
          EXPECT_TRUE(std::isnan(y));
        } else {
          EXPECT_NEAR(x, y, 1e-9 * (1 + std::fabs(x))) << "window " << window << " at " << now;
        }
      }
      EXPECT_EQ(a.WindowExpiry(temp_, window, now), b.WindowExpiry(temp_, window, now));
    }
    EXPECT_EQ(a.Latest(rpm_), b.Latest(rpm_));
    EXPECT_EQ(a.last_seen(), b.last_seen());
    EXPECT_EQ(a.last_ts(), b.last_ts());
  }
  MetricPlan plan_;
  NameTable names_;
  uint32_t temp_, rpm_;
  int short_, long_;
  SampleEffects effects_;
};

TEST_F(DeviceStateCheckpointTest, ARestoredStateReadsAndEvolvesLikeTheOriginal) {
  DeviceState original("acme", "d1", &plan_, &names_);
  Sample first = At(1000, 1, 90);
  first.has_model = true;
  first.model = "EX200";
  first.has_labels = true;
  first.labels = {{"site", "north"}, {"crew", "b"}};
  first.has_dtc = true;
  first.dtc = {"SPN110.FMI0", "P0217"};
  Apply(original, first);
  original.SetConnectivity(Connectivity::kOnline);
  uint64_t seq = 1;
  for (int64_t ts = 2000; ts <= 70000; ts += 1700) {
    Apply(original, At(ts, ++seq, 90 + std::sin(ts / 3000.0) * 20));
  }

  std::string blob;
  original.AppendCheckpoint(blob);
  NameTable other_names;  // another worker's table
  DeviceState restored("acme", "d1", &plan_, &other_names);
  ASSERT_TRUE(restored.RestoreCheckpoint(blob));

  EXPECT_EQ(restored.model(), "EX200");
  EXPECT_TRUE(restored.has_model());
  EXPECT_EQ(restored.labels(), original.labels());
  EXPECT_EQ(restored.dtc(), original.dtc());
  EXPECT_EQ(restored.connectivity(), Connectivity::kOnline);
  EXPECT_NE(restored.profile_version(), 0u);  // selection caches must refresh
  std::vector<std::pair<std::string, double>> a, b;
  original.ForEachMetric([&](std::string_view n, double v) { a.emplace_back(n, v); });
  restored.ForEachMetric([&](std::string_view n, double v) { b.emplace_back(n, v); });
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  // The same acceptance decisions: a replayed seq is a duplicate, older ts out of order.
  Sample replayed = At(70000, seq, 1);
  EXPECT_EQ(restored.Check(replayed, replayed.ts), RejectReason::kDuplicate);
  EXPECT_EQ(restored.Check(At(1, seq + 1, 1), 1), RejectReason::kOutOfOrder);

  ExpectSameReads(original, restored, 70000);
  for (int64_t ts = 71000; ts <= 150000; ts += 2300) {
    Sample s = At(ts, ++seq, 80 + std::cos(ts / 5000.0) * 30);
    ASSERT_EQ(original.Check(s, ts), restored.Check(s, ts));
    Apply(original, s);
    Apply(restored, s);
    ExpectSameReads(original, restored, ts);
  }
  ExpectSameReads(original, restored, 400000);  // everything expired
}

TEST_F(DeviceStateCheckpointTest, ACheckpointMovesToANewPlanByMetricName) {
  DeviceState original("acme", "d1", &plan_, &names_);
  uint64_t seq = 0;
  for (int64_t ts = 1000; ts <= 9000; ts += 1000) Apply(original, At(ts, ++seq, ts / 100.0));
  std::string blob;
  original.AppendCheckpoint(blob);

  MetricPlan next;  // fuel now has a window, temp keeps only a short one, rpm is gone
  const uint32_t fuel = next.AddMetric("fuel");
  const uint32_t temp = next.AddMetric("temp");
  const int temp_window = next.AddWindow(temp, 10000, WindowFunc::kAvg);
  DeviceState restored("acme", "d1", &next, &names_);
  ASSERT_TRUE(restored.RestoreCheckpoint(blob));
  EXPECT_EQ(restored.Latest(fuel), 45);
  EXPECT_EQ(restored.Latest(temp), 90);
  EXPECT_DOUBLE_EQ(restored.Window(temp, temp_window, WindowFunc::kAvg, 9000), 50);
  EXPECT_EQ(restored.Window(fuel, 0, WindowFunc::kCount, 9000), 0);  // no series kept for fuel
  bool rpm_kept = false;
  restored.ForEachMetric([&](std::string_view n, double v) {
    if (n == "rpm") rpm_kept = v == 1090;
  });
  EXPECT_TRUE(rpm_kept);
}

TEST_F(DeviceStateCheckpointTest, MalformedBlobsAreRefused) {
  DeviceState original("acme", "d1", &plan_, &names_);
  Sample s = At(1000, 1, 90);
  s.has_dtc = true;
  s.dtc = {"A", "B"};
  Apply(original, s);
  Apply(original, At(2000, 2, 91));
  std::string blob;
  original.AppendCheckpoint(blob);
  for (std::size_t n = 0; n < blob.size(); ++n) {
    DeviceState d("acme", "d1", &plan_, &names_);
    EXPECT_FALSE(d.RestoreCheckpoint(blob.substr(0, n))) << "truncated at " << n;
  }
  DeviceState trailing("acme", "d1", &plan_, &names_);
  EXPECT_FALSE(trailing.RestoreCheckpoint(blob + "x"));
  DeviceState version("acme", "d1", &plan_, &names_);
  EXPECT_FALSE(version.RestoreCheckpoint("\x09" + blob.substr(1)));
  // Flipping any byte never crashes (it may or may not be refused).
  for (std::size_t i = 0; i < blob.size(); ++i) {
    std::string bad = blob;
    bad[i] = static_cast<char>(bad[i] ^ 0xff);
    DeviceState d("acme", "d1", &plan_, &names_);
    (void)d.RestoreCheckpoint(bad);
  }
}

}  // namespace
}  // namespace precall::devices
