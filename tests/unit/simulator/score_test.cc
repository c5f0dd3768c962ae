// Scoring: how cases match fault episodes (device, expected rule, time on the
// episode's clock), duplicates, false alarms, pending versus missed, lead
// times, and how case events become cases.
#include "devices/simulator/score.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace precall::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kWall = 1'795'849'200'000;  // the run starts here, on both clocks
constexpr int64_t kMinute = 60'000;

// A live run at 10x: event time kWall + 10 * (wall - kWall).
Truth LiveRun() {
  Truth t;
  t.run = RunInfo{.seed = 1,
                  .tenant = "acme",
                  .machines = 10,
                  .interval_ms = 10'000,
                  .speed = 10,
                  .start_ts = kWall,
                  .start_wall = kWall,
                  .silent_after_ms = 60'000};
  return t;
}

Episode Make(std::string device, FaultKind kind, int64_t onset, int64_t onset_wall) {
  Episode e;
  e.device = std::move(device);
  e.model = "EX200";
  e.kind = kind;
  e.clock = ClockOf(kind);
  e.onset = onset;
  e.onset_wall = onset_wall;
  e.bound_ms = DetectionBoundMs(kind, 60'000);
  e.due_wall = onset_wall + 60'000;
  e.expect = ExpectedRules(kind, "EX200", "SPN97.FMI15");
  return e;
}

ScoredCase Case(std::string id, std::string device, std::string rule, int64_t t0, int64_t opened) {
  return ScoredCase{.id = std::move(id),
                    .tenant = "acme",
                    .device = std::move(device),
                    .rule = std::move(rule),
                    .fault_started_at = t0,
                    .opened_at = opened};
}

const KindScore& Kind(const Score& s, FaultKind kind) { return s.kinds[static_cast<int>(kind)]; }

TEST(ScoreTest, ACaseOnTheDeviceForAnExpectedRuleAfterOnsetDetectsTheEpisode) {
  Truth t = LiveRun();
  // Overheat begins at event time +10 min, i.e. wall +1 min.
  t.episodes.push_back(
      Make("ex200-0001", FaultKind::kOverheat, kWall + 10 * kMinute, kWall + kMinute));
  // The case opens at wall +90 s = event time +15 min: lead 5 min of event time.
  const Score s = ScoreRun(
      t, {Case("c1", "ex200-0001", "coolant_overheat", kWall + 14 * kMinute, kWall + 90'000)},
      kWall + 10 * kMinute);
  const KindScore& k = Kind(s, FaultKind::kOverheat);
  EXPECT_EQ(k.episodes, 1);
  EXPECT_EQ(k.detected, 1);
  EXPECT_EQ(k.true_cases, 1);
  EXPECT_EQ(k.false_cases, 0);
  EXPECT_EQ(k.duplicates, 0);
  EXPECT_THAT(k.leads_ms, ElementsAre(5 * kMinute));
  EXPECT_EQ(k.Recall(), 1.0);
  EXPECT_EQ(k.Precision(), 1.0);
  EXPECT_EQ(s.total.detected, 1);
  EXPECT_THAT(s.notes, IsEmpty());
}

TEST(ScoreTest, SilentEpisodesMatchAndMeasureOnTheGatewayClock) {
  Truth t = LiveRun();
  t.episodes.push_back(
      Make("ex200-0002", FaultKind::kSilent, kWall + 10 * kMinute, kWall + kMinute));
  // silent(1m): t0 and opened_at are gateway (wall) times, a minute after.
  Score s = ScoreRun(
      t,
      {Case("c1", "ex200-0002", "machine_silent", kWall + 2 * kMinute, kWall + 2 * kMinute + 500)},
      kWall + 10 * kMinute);
  EXPECT_EQ(Kind(s, FaultKind::kSilent).detected, 1);
  EXPECT_THAT(Kind(s, FaultKind::kSilent).leads_ms, ElementsAre(kMinute + 500));
  // A silent case that began before the machine went dark is not this episode.
  s = ScoreRun(t, {Case("c1", "ex200-0002", "machine_silent", kWall + 30'000, kWall + 30'000)},
               kWall + 10 * kMinute);
  EXPECT_EQ(Kind(s, FaultKind::kSilent).detected, 0);
  EXPECT_EQ(Kind(s, FaultKind::kSilent).false_cases, 1);
}

TEST(ScoreTest, CasesBeforeTheOnsetOrForOtherRulesAreFalseAlarms) {
  Truth t = LiveRun();
  t.episodes.push_back(
      Make("ex200-0001", FaultKind::kFlappingSensor, kWall + 10 * kMinute, kWall + kMinute));
  const Score s = ScoreRun(
      t,
      {Case("c1", "ex200-0001", "coolant_sensor_erratic", kWall + 5 * kMinute, kWall + 40'000),
       Case("c2", "ex200-0001", "coolant_overheat", kWall + 12 * kMinute, kWall + 80'000),
       Case("c3", "ex200-0003", "battery_weak", kWall + 12 * kMinute, kWall + 80'000),
       Case("c4", "ex200-0003", "door_open", kWall + 12 * kMinute, kWall + 80'000)},
      kWall + 10 * kMinute);
  EXPECT_EQ(Kind(s, FaultKind::kFlappingSensor).detected, 0);
  EXPECT_EQ(Kind(s, FaultKind::kFlappingSensor).false_cases, 1) << "c1 began before the onset";
  EXPECT_EQ(Kind(s, FaultKind::kOverheat).false_cases, 1)
      << "c2: the flapping sensor is no overheat";
  EXPECT_EQ(Kind(s, FaultKind::kBatteryDecay).false_cases, 1) << "c3: a healthy machine";
  ASSERT_EQ(s.kinds.size(), kAllFaultKinds.size() + 1);
  EXPECT_EQ(s.kinds.back().kind, "other");
  EXPECT_EQ(s.kinds.back().false_cases, 1) << "c4: a rule outside the example set";
  EXPECT_EQ(s.total.false_cases, 4);
  EXPECT_EQ(s.total.Precision(), 0.0);
  EXPECT_TRUE(std::isnan(Kind(s, FaultKind::kDtc).Precision())) << "no cases";
  EXPECT_EQ(s.notes.size(), 5u);  // four false alarms and the miss
}

TEST(ScoreTest, ASecondCaseForOneEpisodeIsADuplicate) {
  Truth t = LiveRun();
  t.episodes.push_back(Make("ex200-0001", FaultKind::kDtc, kWall + 10 * kMinute, kWall + kMinute));
  // A fault code's case opens at its sample's event time (CONTRACT §2).
  const Score s = ScoreRun(
      t,
      {Case("c2", "ex200-0001", "dtc:SPN97.FMI15", kWall + 14 * kMinute, kWall + 14 * kMinute),
       Case("c1", "ex200-0001", "dtc:SPN97.FMI15", kWall + 10 * kMinute, kWall + 10 * kMinute)},
      kWall + 10 * kMinute);
  const KindScore& k = Kind(s, FaultKind::kDtc);
  EXPECT_EQ(k.detected, 1);
  EXPECT_EQ(k.true_cases, 2);
  EXPECT_EQ(k.duplicates, 1);
  EXPECT_THAT(k.leads_ms, ElementsAre(0)) << "the first case opened, c1, detects";
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_THAT(s.notes[0], HasSubstr("duplicate: c2"));
}

TEST(ScoreTest, UndetectedEpisodesArePendingUntilDueThenMissed) {
  Truth t = LiveRun();
  t.episodes.push_back(
      Make("ex200-0001", FaultKind::kBatteryDecay, kWall + 10 * kMinute, kWall + kMinute));
  // due_wall is onset_wall + 1 min.
  Score s = ScoreRun(t, {}, kWall + kMinute + 59'999);
  EXPECT_EQ(Kind(s, FaultKind::kBatteryDecay).pending, 1);
  EXPECT_EQ(s.awaiting, 1);
  EXPECT_TRUE(std::isnan(s.total.Recall()));
  s = ScoreRun(t, {}, kWall + 2 * kMinute);
  EXPECT_EQ(Kind(s, FaultKind::kBatteryDecay).missed, 1);
  EXPECT_EQ(Kind(s, FaultKind::kBatteryDecay).pending, 0);
  EXPECT_EQ(s.total.Recall(), 0.0);
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_THAT(s.notes[0], HasSubstr("missed: ex200-0001 battery_decay"));
}

TEST(ScoreTest, AnEpisodeTheRunEndedTooSoonForIsPendingNotMissed) {
  Truth t = LiveRun();
  const int64_t onset = kWall + 10 * kMinute;
  t.episodes.push_back(Make("ex200-0001", FaultKind::kOverheat, onset, kWall + kMinute));
  t.end = RunEnd{.end_ts = onset + 3 * kMinute, .end_wall = kWall + 2 * kMinute};  // bound is 8 min
  const Score s = ScoreRun(t, {}, kWall + 60 * kMinute);
  EXPECT_EQ(Kind(s, FaultKind::kOverheat).pending, 1);
  EXPECT_EQ(s.awaiting, 0) << "nothing more can come";
}

TEST(ScoreTest, CasesWhoseFaultBeganAfterTheRunAreOutOfScope) {
  Truth t = LiveRun();
  t.end = RunEnd{.end_ts = kWall + 20 * kMinute, .end_wall = kWall + 2 * kMinute};
  // Every machine goes quiet when the simulator stops: silent() cases follow.
  const Score s = ScoreRun(
      t,
      {Case("c1", "ex200-0001", "machine_silent", kWall + 3 * kMinute, kWall + 3 * kMinute),
       Case("c2", "ex200-0001", "coolant_overheat", kWall + 21 * kMinute, kWall + 3 * kMinute),
       Case("c3", "ex200-0001", "coolant_overheat", kWall + 19 * kMinute, kWall + 3 * kMinute)},
      kWall + 10 * kMinute);
  EXPECT_EQ(s.out_of_scope, 2);
  EXPECT_EQ(s.total.false_cases, 1) << "c3 began during the run";
  EXPECT_THAT(FormatScoreTable(s), HasSubstr("2 case(s) whose fault began after the run ended"));
}

TEST(ScoreTest, OtherTenantsCasesAreNotOurs) {
  Truth t = LiveRun();
  ScoredCase c = Case("c1", "ex200-0001", "coolant_overheat", kWall, kWall);
  c.tenant = "globex";
  EXPECT_EQ(ScoreRun(t, {c}, kWall).total.false_cases, 0);
}

TEST(ScoreTest, DataClockRunsAreCompleteWhateverTheTime) {
  Truth t = LiveRun();
  t.run.data_clock = true;
  t.run.start_wall = t.run.start_ts;
  Episode e = Make("ex200-0001", FaultKind::kOverheat, kWall + 10 * kMinute, kWall + 10 * kMinute);
  e.due_wall = kWall + 20 * kMinute;
  t.episodes.push_back(e);
  t.end = RunEnd{.end_ts = kWall + 60 * kMinute, .end_wall = kWall + 60 * kMinute};
  // Scored "before" the due time on the wall clock: still missed, because a
  // replayed run has ended on its own clock.
  EXPECT_EQ(ScoreRun(t, {}, 0).total.missed, 1);
  // Lead with the data clock: opened_at is event time.
  const Score s = ScoreRun(
      t, {Case("c1", "ex200-0001", "coolant_overheat", kWall + 14 * kMinute, kWall + 15 * kMinute)},
      0);
  EXPECT_THAT(Kind(s, FaultKind::kOverheat).leads_ms, ElementsAre(5 * kMinute));
}

TEST(ScoreTest, LeadPercentilesAndDurations) {
  KindScore k;
  EXPECT_EQ(k.LeadP50(), -1);
  k.leads_ms = {5000, 1000, 3000, 2000};
  EXPECT_EQ(k.LeadP50(), 2000);
  EXPECT_EQ(k.LeadMax(), 5000);
  EXPECT_EQ(FormatDuration(-1), "-");
  EXPECT_EQ(FormatDuration(12'400), "12s");
  EXPECT_EQ(FormatDuration(245'000), "4m05s");
  EXPECT_EQ(FormatDuration(3'720'000), "1h02m");
}

TEST(ScoreTest, JsonHasEveryKindAndTheTotal) {
  Truth t = LiveRun();
  t.episodes.push_back(Make("ex200-0001", FaultKind::kDtc, kWall, kWall));
  const std::string json = FormatScoreJson(ScoreRun(t, {}, kWall));
  for (FaultKind kind : kAllFaultKinds)
    EXPECT_THAT(json,
                HasSubstr(absl::StrCat("\"kind\":\"", std::string(FaultKindName(kind)), "\"")));
  EXPECT_THAT(json, HasSubstr("\"kind\":\"total\",\"episodes\":1,\"detected\":0,\"pending\":1"));
  EXPECT_THAT(json, HasSubstr("\"recall\":null"));
  EXPECT_THAT(json, HasSubstr("\"awaiting\":1"));
}

std::string Event(int64_t seq, std::string_view type, std::string_view id, int64_t opened_at) {
  return absl::StrCat(
      R"({"seq":)", seq, R"(,"type":")", std::string(type), R"(","at":1,"case":{"id":")",
      std::string(id),
      R"(","tenant":"acme","device":"d1","model":null,"rule":"r","severity":"warning",)"
      R"("status":"open","fault_started_at":5,"opened_at":)",
      opened_at,
      R"(,"updated_at":1,"acknowledged_at":null,"acknowledged_by":null,)"
      R"("resolved_at":null,"resolved_by":null,"occurrences":1,"diagnosis":"",)"
      R"("skill":"","parts":[],"evidence":{}}})");
}

TEST(CaseCollectorTest, BuildsCasesFromTheirFirstEventAndCountsReopens) {
  CaseCollector c;
  const std::string lines = Event(3, "reopened", "c-1", 999) + "\n" +
                            Event(1, "opened", "c-1", 100) + "\n" + Event(2, "opened", "c-2", 50) +
                            "\n" + Event(3, "reopened", "c-1", 999) + "\n";  // delivered twice
  ASSERT_TRUE(c.AddLines(lines).ok());
  EXPECT_EQ(c.events(), 3u);
  std::vector<ScoredCase> cases = c.cases();
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].id, "c-2") << "ordered by opened_at";
  EXPECT_EQ(cases[1].id, "c-1");
  EXPECT_EQ(cases[1].opened_at, 100) << "from the opened event, not the reopen";
  EXPECT_EQ(cases[1].reopened, 1);
  EXPECT_EQ(cases[1].fault_started_at, 5);
  EXPECT_EQ(cases[1].tenant, "acme");
  EXPECT_EQ(cases[1].device, "d1");
  EXPECT_EQ(cases[1].rule, "r");
}

TEST(CaseCollectorTest, MalformedEventsNameTheLine) {
  CaseCollector c;
  absl::Status s = c.AddLines(Event(1, "opened", "c-1", 1) + "\n{\"seq\":2}\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("line 2"));
  s = c.AddLines("[1]\n");
  EXPECT_THAT(std::string(s.message()), HasSubstr("line 1: not a JSON object"));
}

}  // namespace
}  // namespace precall::sim
