// The truth file: what the simulator writes reads back the same, and a
// damaged file is refused with the line that is wrong.
#include "devices/simulator/truth.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace precall::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

RunInfo SampleRun() {
  return RunInfo{.seed = 42,
                 .tenant = "acme",
                 .machines = 200,
                 .interval_ms = 5000,
                 .speed = 30,
                 .start_ts = 1000,
                 .start_wall = 900,
                 .max_ahead_ms = 123,
                 .silent_after_ms = 8000,
                 .data_clock = false};
}

Episode Dtc() {
  Episode e;
  e.device = "wl300-0009";
  e.model = "WL300";
  e.kind = FaultKind::kDtc;
  e.clock = FaultClock::kEvent;
  e.onset = 61'000;
  e.onset_wall = 3'000;
  e.bound_ms = 60'000;
  e.due_wall = 10'000;
  e.expect = ExpectedRules(FaultKind::kDtc, "WL300", "SPN127.FMI1");
  e.code = "SPN127.FMI1";
  e.until = 200'000;
  return e;
}

TEST(TruthTest, WhatIsWrittenReadsBack) {
  Episode silent;
  silent.device = "ex200-0001";
  silent.model = "EX200";
  silent.kind = FaultKind::kSilent;
  silent.clock = FaultClock::kGateway;
  silent.onset = 5;
  silent.onset_wall = 6;
  silent.bound_ms = 7;
  silent.due_wall = 8;
  silent.expect = {"machine_silent"};
  const std::string text = RunLine(SampleRun()) + "\n" + EpisodeLine(Dtc()) + "\n" +
                           EpisodeLine(silent) + "\n" +
                           EndLine({.end_ts = 9, .end_wall = 10, .samples = 11}) + "\n";
  absl::StatusOr<Truth> truth = ParseTruth(text);
  ASSERT_TRUE(truth.ok()) << truth.status();
  const RunInfo& run = truth->run;
  EXPECT_EQ(run.seed, 42u);
  EXPECT_EQ(run.tenant, "acme");
  EXPECT_EQ(run.machines, 200);
  EXPECT_EQ(run.interval_ms, 5000);
  EXPECT_EQ(run.speed, 30);
  EXPECT_EQ(run.start_ts, 1000);
  EXPECT_EQ(run.start_wall, 900);
  EXPECT_EQ(run.max_ahead_ms, 123);
  EXPECT_EQ(run.silent_after_ms, 8000);
  EXPECT_FALSE(run.data_clock);
  ASSERT_EQ(truth->episodes.size(), 2u);
  const Episode& e = truth->episodes[0];
  EXPECT_EQ(e.device, "wl300-0009");
  EXPECT_EQ(e.model, "WL300");
  EXPECT_EQ(e.kind, FaultKind::kDtc);
  EXPECT_EQ(e.clock, FaultClock::kEvent);
  EXPECT_EQ(e.onset, 61'000);
  EXPECT_EQ(e.onset_wall, 3'000);
  EXPECT_EQ(e.bound_ms, 60'000);
  EXPECT_EQ(e.due_wall, 10'000);
  EXPECT_THAT(e.expect, ElementsAre("dtc:SPN127.FMI1"));
  EXPECT_EQ(e.code, "SPN127.FMI1");
  EXPECT_EQ(e.until, 200'000);
  EXPECT_EQ(truth->episodes[1].kind, FaultKind::kSilent);
  EXPECT_EQ(truth->episodes[1].clock, FaultClock::kGateway);
  EXPECT_EQ(truth->episodes[1].OnsetOnClock(), 6) << "gateway clock: the wall onset";
  EXPECT_EQ(truth->episodes[0].OnsetOnClock(), 61'000) << "event clock: ts";
  ASSERT_TRUE(truth->end.has_value());
  EXPECT_EQ(truth->end->end_ts, 9);
  EXPECT_EQ(truth->end->end_wall, 10);
  EXPECT_EQ(truth->end->samples, 11u);
}

TEST(TruthTest, ARunStillGoingHasNoEnd) {
  absl::StatusOr<Truth> truth = ParseTruth(RunLine(SampleRun()) + "\n" + EpisodeLine(Dtc()));
  ASSERT_TRUE(truth.ok()) << truth.status();
  EXPECT_FALSE(truth->end.has_value());
  EXPECT_EQ(truth->episodes.size(), 1u);
}

TEST(TruthTest, DamagedFilesNameTheLine) {
  auto error = [](const std::string& text) {
    absl::StatusOr<Truth> t = ParseTruth(text);
    return t.ok() ? std::string("ok") : std::string(t.status().message());
  };
  EXPECT_THAT(error(""), HasSubstr("empty"));
  EXPECT_THAT(error(EpisodeLine(Dtc())), HasSubstr("line 1: the first line must be the run"));
  EXPECT_THAT(error(RunLine(SampleRun()) + "\n\n{not json"), HasSubstr("line 3: not JSON"));
  std::string unknown = EpisodeLine(Dtc());
  unknown.replace(unknown.find("\"dtc\""), 5, "\"rust\"");
  EXPECT_THAT(error(RunLine(SampleRun()) + "\n" + unknown),
              HasSubstr("line 2: unknown fault kind 'rust'"));
  EXPECT_THAT(error(RunLine(SampleRun()) + "\n{\"type\":\"fault\",\"device\":\"x\"}"),
              HasSubstr("line 2: \"model\": missing"));
  EXPECT_THAT(error(RunLine(SampleRun()) + "\n" + EndLine({}) + "\n" + EpisodeLine(Dtc())),
              HasSubstr("line 3: a line after the end"));
  std::string clock = RunLine(SampleRun());
  clock.replace(clock.find("\"wall\""), 6, "\"moon\"");
  EXPECT_THAT(error(clock), HasSubstr("gateway_clock"));
}

TEST(TruthTest, JsonStringsAreEscaped) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\n");
  EXPECT_EQ(out, R"("a\"b\\c\u000a")");
}

TEST(TruthTest, ExpectedRulesMatchTheExampleRuleNames) {
  EXPECT_THAT(ExpectedRules(FaultKind::kOverheat, "EX200", ""), ElementsAre("coolant_overheat"));
  EXPECT_THAT(ExpectedRules(FaultKind::kHydraulicLeak, "WL300", ""),
              ElementsAre("hydraulic_leak_wl300"));
  for (FaultKind kind : kAllFaultKinds) {
    EXPECT_EQ(ParseFaultKind(FaultKindName(kind)), kind);
    for (const std::string& rule : ExpectedRules(kind, "EX200", "SPN97.FMI15")) {
      EXPECT_EQ(KindOfRule(rule), kind) << rule;
    }
  }
  EXPECT_EQ(KindOfRule("door_open"), std::nullopt);
  EXPECT_EQ(ParseFaultKind("rust"), std::nullopt);
}

}  // namespace
}  // namespace precall::sim
