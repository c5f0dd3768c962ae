// The simulated fleet: determinism under --seed, the composition and fault
// plan, each fault's signal shape, and the telemetry payload it publishes.
#include "devices/simulator/fleet.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace precall::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr int64_t kStart = 1'795'849'200'000;
constexpr int64_t kMinute = 60'000;

FleetOptions Options(uint64_t seed, int machines = 200, double fault_rate = 0.3) {
  FleetOptions o;
  o.seed = seed;
  o.machines = machines;
  o.fault_rate = fault_rate;
  o.start_ts_ms = kStart;
  return o;
}

// Every payload of every machine for `rounds` samples each.
std::vector<std::string> Payloads(const Fleet& fleet, int rounds) {
  std::vector<std::string> out;
  for (int i = 0; i < fleet.size(); ++i) {
    Machine m(fleet, i);
    Sample s;
    for (int r = 0; r < rounds && m.Step(s); ++r) {
      std::string p;
      m.AppendPayload(s, p);
      out.push_back(std::move(p));
    }
  }
  return out;
}

// The first sample (of machine i) satisfying `pred`, or nullopt within `rounds`.
template <typename Pred>
std::optional<Sample> First(const Fleet& fleet, int i, int rounds, Pred pred) {
  Machine m(fleet, i);
  Sample s;
  for (int r = 0; r < rounds && m.Step(s); ++r) {
    if (pred(s)) return s;
  }
  return std::nullopt;
}

// The first machine with a fault of `kind`.
int MachineWith(const Fleet& fleet, FaultKind kind) {
  for (int i = 0; i < fleet.size(); ++i) {
    if (fleet.fault(i) && fleet.fault(i)->kind == kind) return i;
  }
  ADD_FAILURE() << "no machine with " << FaultKindName(kind);
  return 0;
}

TEST(RngTest, SameSeedSameNumbersAndStreamsDiffer) {
  Rng a(StreamSeed(7, 3, 1));
  Rng b(StreamSeed(7, 3, 1));
  Rng c(StreamSeed(7, 3, 2));
  Rng d(StreamSeed(7, 4, 1));
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    EXPECT_NE(x, c.Next());
    EXPECT_NE(x, d.Next());
  }
}

TEST(RngTest, DistributionsHaveTheirShape) {
  Rng rng(42);
  double sum = 0;
  double sum2 = 0;
  constexpr int kN = 200'000;
  for (int i = 0; i < kN; ++i) {
    const double g = rng.Gaussian(10, 2);
    sum += g;
    sum2 += g * g;
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const int64_t k = rng.Int(3, 5);
    ASSERT_GE(k, 3);
    ASSERT_LE(k, 5);
  }
  const double mean = sum / kN;
  EXPECT_NEAR(mean, 10.0, 0.02);
  EXPECT_NEAR(std::sqrt(sum2 / kN - mean * mean), 2.0, 0.02);
}

TEST(FleetTest, SameSeedSameTelemetrySampleForSample) {
  const Fleet a(Options(5));
  const Fleet b(Options(5));
  EXPECT_EQ(Payloads(a, 50), Payloads(b, 50));
  for (int i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a.fault(i).has_value(), b.fault(i).has_value());
    if (a.fault(i)) {
      EXPECT_EQ(a.fault(i)->kind, b.fault(i)->kind);
      EXPECT_EQ(a.fault(i)->onset_ts, b.fault(i)->onset_ts);
      EXPECT_EQ(a.fault(i)->code, b.fault(i)->code);
    }
  }
}

TEST(FleetTest, AnotherSeedAnotherFleet) {
  EXPECT_NE(Payloads(Fleet(Options(5)), 5), Payloads(Fleet(Options(6)), 5));
}

TEST(FleetTest, CompositionIdsSitesAndPhases) {
  const Fleet fleet(Options(1, 1000));
  std::map<std::string, int> models;
  std::set<std::string> ids;
  for (int i = 0; i < fleet.size(); ++i) {
    const MachineIdentity& m = fleet.machine(i);
    ++models[std::string(m.model->name)];
    ids.insert(m.device);
    EXPECT_FALSE(m.site.empty());
    EXPECT_GE(m.phase_ms, 0);
    EXPECT_LT(m.phase_ms, fleet.options().interval_ms);
    if (i > 0) {
      EXPECT_GE(m.phase_ms, fleet.machine(i - 1).phase_ms);  // samples go out in order
    }
  }
  EXPECT_EQ(models["EX200"], 400);
  EXPECT_EQ(models["WL300"], 350);
  EXPECT_EQ(models["CP45"], 250);
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(fleet.machine(0).device, "ex200-0001");
  EXPECT_EQ(fleet.machine(999).device, "cp45-1000");
}

TEST(FleetTest, FaultPlanCoversEveryKindWithinTheWindowOnTheSampleGrid) {
  FleetOptions o = Options(3, 400, 0.25);
  const Fleet fleet(o);
  std::map<FaultKind, int> kinds;
  int faulty = 0;
  for (int i = 0; i < fleet.size(); ++i) {
    const auto& f = fleet.fault(i);
    if (!f) continue;
    ++faulty;
    ++kinds[f->kind];
    const MachineIdentity& m = fleet.machine(i);
    EXPECT_GE(f->onset_ts, kStart + o.fault_start_ms);
    EXPECT_LT(f->onset_ts, kStart + o.fault_start_ms + o.fault_window_ms + o.interval_ms);
    EXPECT_EQ((f->onset_ts - kStart - m.phase_ms) % o.interval_ms, 0) << m.device;
    if (f->kind == FaultKind::kHydraulicLeak) {
      EXPECT_TRUE(m.model->hydraulics) << m.device;
    }
    if (f->kind == FaultKind::kDtc) {
      EXPECT_THAT(
          std::vector<std::string_view>(m.model->dtc_codes.begin(), m.model->dtc_codes.end()),
          ::testing::Contains(f->code));
      EXPECT_GE(f->until_ts, f->onset_ts + 2 * kMinute);
      EXPECT_LE(f->until_ts, f->onset_ts + 6 * kMinute + o.interval_ms);
    } else {
      EXPECT_EQ(f->until_ts, std::numeric_limits<int64_t>::max());
    }
  }
  EXPECT_EQ(faulty, fleet.faulty());
  EXPECT_NEAR(faulty, 100, 25);  // 25 % of 400
  EXPECT_EQ(kinds.size(), kAllFaultKinds.size());
  for (const auto& [kind, n] : kinds) EXPECT_GE(n, faulty / 10) << FaultKindName(kind);
}

TEST(FleetTest, OnlyTheChosenKinds) {
  FleetOptions o = Options(3, 100, 1.0);
  o.kinds = {FaultKind::kSilent};
  const Fleet fleet(o);
  for (int i = 0; i < fleet.size(); ++i) {
    ASSERT_TRUE(fleet.fault(i));
    EXPECT_EQ(fleet.fault(i)->kind, FaultKind::kSilent);
  }
}

TEST(FleetTest, OptionsAreValidated) {
  FleetOptions o = Options(1);
  EXPECT_TRUE(o.Validate().ok());
  o.machines = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = Options(1);
  o.fault_rate = 1.5;
  EXPECT_FALSE(o.Validate().ok());
  o = Options(1);
  o.tenant = "a/b";
  EXPECT_FALSE(o.Validate().ok());
  o = Options(1);
  o.interval_ms = 10;
  EXPECT_FALSE(o.Validate().ok());
  o = Options(1);
  o.kinds.clear();
  EXPECT_FALSE(o.Validate().ok());
}

TEST(MachineTest, SamplesComeEveryIntervalWithIncreasingSeq) {
  const Fleet fleet(Options(1, 10, 0));
  Machine m(fleet, 4);
  Sample s;
  for (int r = 0; r < 20; ++r) {
    ASSERT_TRUE(m.Step(s));
    EXPECT_EQ(s.ts, fleet.SampleTs(4, r));
    EXPECT_EQ(s.seq, static_cast<uint64_t>(r + 1));
  }
}

TEST(MachineTest, HealthyMachinesStayInsideEveryRuleThreshold) {
  const Fleet fleet(Options(9, 60, 0));
  for (int i = 0; i < fleet.size(); ++i) {
    Machine m(fleet, i);
    Sample s;
    for (int r = 0; r < 6 * 360; ++r) {  // 6 h at 10 s
      ASSERT_TRUE(m.Step(s));
      ASSERT_LT(s.coolant_temp_c, 100.0) << fleet.machine(i).device << " at " << r;
      ASSERT_GT(s.battery_v, 24.8);
      if (s.engine_rpm > 600) {
        ASSERT_GT(s.oil_pressure_kpa, 150.0);
      }
      if (fleet.machine(i).model->hydraulics) {
        ASSERT_GT(s.hydraulic_oil_level_pct, 78.5);
      }
      ASSERT_THAT(s.dtc, IsEmpty());
    }
  }
}

TEST(MachineTest, OverheatRampsCoolantPastTheRuleWhileWorking) {
  const Fleet fleet(Options(2));
  const int i = MachineWith(fleet, FaultKind::kOverheat);
  const int64_t onset = fleet.fault(i)->onset_ts;
  auto hot = First(fleet, i, 1000, [](const Sample& s) { return s.coolant_temp_c > 104.5; });
  ASSERT_TRUE(hot);
  EXPECT_GT(hot->ts, onset);
  EXPECT_LT(hot->ts, onset + 5 * kMinute);
  EXPECT_GT(hot->engine_rpm, 600);
  auto before = First(fleet, i, 1000, [&](const Sample& s) { return s.ts == onset - 10'000; });
  ASSERT_TRUE(before);
  EXPECT_LT(before->coolant_temp_c, 95) << "the ramp starts at the onset";
}

TEST(MachineTest, OilPressureCollapsesWithinAMinuteAndAHalf) {
  const Fleet fleet(Options(2));
  const int i = MachineWith(fleet, FaultKind::kOilPressureLoss);
  const int64_t onset = fleet.fault(i)->onset_ts;
  auto low = First(fleet, i, 1000, [](const Sample& s) { return s.oil_pressure_kpa < 100; });
  ASSERT_TRUE(low);
  EXPECT_GE(low->ts, onset);
  EXPECT_LT(low->ts, onset + 90'000);
  EXPECT_GT(low->engine_rpm, 600) << "the engine keeps running";
}

TEST(MachineTest, HydraulicLeakDrainsTheTank) {
  const Fleet fleet(Options(2));
  const int i = MachineWith(fleet, FaultKind::kHydraulicLeak);
  const int64_t onset = fleet.fault(i)->onset_ts;
  auto at_onset = First(fleet, i, 1000, [&](const Sample& s) { return s.ts == onset; });
  auto later = First(fleet, i, 1000, [&](const Sample& s) { return s.ts == onset + 4 * kMinute; });
  ASSERT_TRUE(at_onset && later);
  EXPECT_LT(later->hydraulic_oil_level_pct - at_onset->hydraulic_oil_level_pct, -4.5);
}

TEST(MachineTest, BatteryDecaySagsBelowTwentyFourVolts) {
  const Fleet fleet(Options(2));
  const int i = MachineWith(fleet, FaultKind::kBatteryDecay);
  const int64_t onset = fleet.fault(i)->onset_ts;
  auto sagged = First(fleet, i, 1000, [](const Sample& s) { return s.battery_v < 23.5; });
  ASSERT_TRUE(sagged);
  EXPECT_LT(sagged->ts, onset + 6 * kMinute);
  EXPECT_GT(sagged->ts, onset + 3 * kMinute);
}

TEST(MachineTest, DtcIsActiveFromOnsetUntilItClears) {
  const Fleet fleet(Options(2));
  const int i = MachineWith(fleet, FaultKind::kDtc);
  const PlannedFault& f = *fleet.fault(i);
  Machine m(fleet, i);
  Sample s;
  for (int r = 0; r < 200; ++r) {
    ASSERT_TRUE(m.Step(s));
    if (s.ts >= f.onset_ts && s.ts < f.until_ts) {
      EXPECT_THAT(s.dtc, ElementsAre(f.code)) << s.ts;
    } else {
      EXPECT_THAT(s.dtc, IsEmpty()) << s.ts;
    }
  }
}

TEST(MachineTest, SilentMachineSendsNothingFromItsOnset) {
  const Fleet fleet(Options(2));
  const int i = MachineWith(fleet, FaultKind::kSilent);
  Machine m(fleet, i);
  Sample s;
  int64_t last = 0;
  int sent = 0;
  for (int r = 0; r < 500 && m.Step(s); ++r) {
    last = s.ts;
    ++sent;
  }
  EXPECT_EQ(last, fleet.fault(i)->onset_ts - fleet.options().interval_ms);
  EXPECT_FALSE(m.Step(s)) << "silent for good";
  EXPECT_LT(sent, 500);
}

TEST(MachineTest, FlappingSensorReadsOpenAndShortCircuitWithTheirCodes) {
  const Fleet fleet(Options(2));
  const int i = MachineWith(fleet, FaultKind::kFlappingSensor);
  const int64_t onset = fleet.fault(i)->onset_ts;
  Machine m(fleet, i);
  Sample s;
  int open = 0;
  int shorted = 0;
  int fine = 0;
  for (int r = 0; r < 400; ++r) {
    ASSERT_TRUE(m.Step(s));
    if (s.ts < onset) {
      EXPECT_THAT(s.dtc, IsEmpty());
      continue;
    }
    if (s.coolant_temp_c == -40.0) {
      ++open;
      EXPECT_THAT(s.dtc, ElementsAre("SPN110.FMI3"));
    } else if (s.coolant_temp_c == 150.0) {
      ++shorted;
      EXPECT_THAT(s.dtc, ElementsAre("SPN110.FMI4"));
    } else {
      ++fine;
      EXPECT_THAT(s.dtc, IsEmpty());
    }
  }
  EXPECT_GT(open, 0);
  EXPECT_GT(shorted, 0);
  EXPECT_GT(fine, open + shorted) << "the sensor works most of the time";
}

TEST(MachineTest, PayloadIsTheContractsSampleObject) {
  const Fleet fleet(Options(1, 20, 0));
  for (int i : {0, 19}) {  // an excavator (hydraulics) and a compressor (air end)
    Machine m(fleet, i);
    Sample s;
    ASSERT_TRUE(m.Step(s));
    std::string payload;
    m.AppendPayload(s, payload);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(payload).get(doc), simdjson::SUCCESS) << payload;
    EXPECT_EQ(int64_t(doc["ts"]), s.ts);
    EXPECT_EQ(uint64_t(doc["seq"]), 1u);
    EXPECT_EQ(std::string_view(doc["model"]), fleet.machine(i).model->name);
    EXPECT_EQ(std::string_view(doc["labels"]["site"]), fleet.machine(i).site);
    EXPECT_EQ(simdjson::dom::array(doc["dtc"]).size(), 0u);
    simdjson::dom::object metrics = doc["metrics"];
    std::set<std::string> names;
    for (auto [key, value] : metrics) {
      names.insert(std::string(key));
      EXPECT_TRUE(value.is_number()) << key;
    }
    std::set<std::string> want = {"engine_rpm", "coolant_temp_c", "oil_pressure_kpa",
                                  "battery_v",  "fuel_level_pct", "engine_hours"};
    if (fleet.machine(i).model->hydraulics) {
      want.insert({"hydraulic_pressure_bar", "hydraulic_oil_level_pct"});
    } else {
      want.insert("air_pressure_bar");
    }
    EXPECT_EQ(names, want) << payload;
    EXPECT_NEAR(double(metrics["coolant_temp_c"]), s.coolant_temp_c, 0.051);
  }
}

}  // namespace
}  // namespace precall::sim
