// The per-(device, rule) state machine: pending and `for`, triggers and
// occurrences, clear and clear_for, unknowns, and the timers it reports.
#include "rules/rule_state.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace precall::rules {
namespace {

constexpr double T = 1, F = 0, U = std::numeric_limits<double>::quiet_NaN();
using Kind = Decision::Kind;

// Default clear: not(when).
double NotWhen(double w) { return std::isnan(w) ? U : (w == 0 ? 1 : 0); }

TEST(RuleStateTest, ForZeroFiresOnFirstTrueEvaluation) {
  RuleState s;
  Decision d = Advance(s, T, NotWhen(T), 100, 0, 0);
  EXPECT_EQ(d.kind, Kind::kFired);
  EXPECT_EQ(d.fault_started_at, 100);
}

TEST(RuleStateTest, PendingNeedsEveryEvaluationTrueUntilFor) {
  RuleState s;
  EXPECT_EQ(Advance(s, T, 0, 1000, 30000, 0).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, T, 0, 20000, 30000, 0).kind, Kind::kNone);
  Decision d = Advance(s, T, 0, 31000, 30000, 0);
  EXPECT_EQ(d.kind, Kind::kFired);
  EXPECT_EQ(d.fault_started_at, 1000);
}

TEST(RuleStateTest, FalseOrUnknownEndsThePendingPeriod) {
  for (double breaker : {F, U}) {
    RuleState s;
    Advance(s, T, 0, 1000, 30000, 0);
    Advance(s, breaker, 0, 10000, 30000, 0);
    EXPECT_TRUE(s.idle());
    EXPECT_EQ(Advance(s, T, 0, 31000, 30000, 0).kind, Kind::kNone);  // restarted at 31000
    Decision d = Advance(s, T, 0, 61000, 30000, 0);
    EXPECT_EQ(d.kind, Kind::kFired);
    EXPECT_EQ(d.fault_started_at, 31000);
  }
}

TEST(RuleStateTest, StayingTrueIsOneTriggerAndRetriggerNeedsAFalseFirst) {
  RuleState s;
  EXPECT_EQ(Advance(s, T, F, 1, 0, 0).kind, Kind::kFired);
  EXPECT_EQ(Advance(s, T, F, 2, 0, 60000).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, T, F, 3, 0, 60000).kind, Kind::kNone);
  // when false: clear (not when) starts but clear_for is 60 s.
  EXPECT_EQ(Advance(s, F, T, 4, 0, 60000).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, T, F, 5, 0, 60000).kind, Kind::kFired);  // a second trigger
}

TEST(RuleStateTest, ClearNeedsClearForOfTrueEvaluations) {
  RuleState s;
  Advance(s, T, F, 0, 0, 120000);
  EXPECT_EQ(Advance(s, F, T, 10000, 0, 120000).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, F, U, 20000, 0, 120000).kind, Kind::kNone);  // unknown breaks it
  EXPECT_EQ(Advance(s, F, T, 30000, 0, 120000).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, F, T, 149999, 0, 120000).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, F, T, 150000, 0, 120000).kind, Kind::kCleared);
  EXPECT_TRUE(s.idle());
}

TEST(RuleStateTest, HysteresisBetweenThresholdsDoesNothing) {
  RuleState s;  // when: x > 105, clear: x < 95; x = 100 is neither
  Advance(s, T, F, 0, 0, 0);
  EXPECT_EQ(Advance(s, F, F, 1000, 0, 0).kind, Kind::kNone);
  EXPECT_TRUE(s.case_active);
  EXPECT_EQ(Advance(s, F, T, 2000, 0, 0).kind, Kind::kCleared);
}

TEST(RuleStateTest, TheOpeningEvaluationDoesNotClear) {
  RuleState s;  // a clear that overlaps when: both true at once
  EXPECT_EQ(Advance(s, T, T, 0, 0, 0).kind, Kind::kFired);
  EXPECT_TRUE(s.case_active);
  EXPECT_EQ(Advance(s, T, T, 1, 0, 0).kind, Kind::kCleared);
}

// CONTRACT §2: a case resolves once clear has been true on every evaluation
// from t1 to t >= t1 + clear_for. The opening evaluation does not clear, but
// it is one of those evaluations: clear true there starts the streak.
TEST(RuleStateTest, TheOpeningEvaluationStartsAClearStreak) {
  RuleState s;
  EXPECT_EQ(Advance(s, T, T, 0, 0, 5000).kind, Kind::kFired);
  EXPECT_EQ(Advance(s, T, T, 4999, 0, 5000).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, T, T, 5000, 0, 5000).kind, Kind::kCleared);
}

// A new occurrence in the middle of a clear streak neither resolves the case
// nor restarts the streak: clear held at 1000, 3000 and 6000.
TEST(RuleStateTest, AnOccurrenceDoesNotRestartAClearStreak) {
  RuleState s;
  EXPECT_EQ(Advance(s, T, F, 0, 0, 5000).kind, Kind::kFired);
  EXPECT_EQ(Advance(s, F, T, 1000, 0, 5000).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, T, T, 3000, 0, 5000).kind, Kind::kFired);  // occurrence 2
  EXPECT_EQ(Advance(s, T, T, 6000, 0, 5000).kind, Kind::kCleared);
  // An occurrence with clear false ends the streak.
  RuleState r;
  Advance(r, T, F, 0, 0, 5000);
  Advance(r, F, T, 1000, 0, 5000);
  EXPECT_EQ(Advance(r, T, F, 3000, 0, 5000).kind, Kind::kFired);
  EXPECT_EQ(Advance(r, T, T, 6000, 0, 5000).kind, Kind::kNone);
  EXPECT_EQ(Advance(r, T, T, 11000, 0, 5000).kind, Kind::kCleared);
}

// Only the opening evaluation is exempt from clearing (CONTRACT §2): an
// occurrence at the evaluation that completes the clear streak counts, and
// the case resolves there too; a reopening does not clear.
TEST(RuleStateTest, AnOccurrenceCanCompleteAClearStreak) {
  RuleState s;
  EXPECT_EQ(Advance(s, T, F, 0, 0, 5000).kind, Kind::kFired);
  EXPECT_EQ(Advance(s, F, T, 1000, 0, 5000).kind, Kind::kNone);  // streak from 1000
  const Decision d = Advance(s, T, T, 6000, 0, 5000);            // occurrence 2, and cleared
  EXPECT_EQ(d.kind, Kind::kFired);
  EXPECT_TRUE(d.cleared_too);
  EXPECT_FALSE(s.case_active);
  // Still true: no new trigger; false then true: a new opening, not cleared.
  EXPECT_EQ(Advance(s, T, T, 7000, 0, 5000).kind, Kind::kNone);
  EXPECT_EQ(Advance(s, F, T, 8000, 0, 5000).kind, Kind::kNone);
  const Decision again = Advance(s, T, T, 9000, 0, 0);
  EXPECT_EQ(again.kind, Kind::kFired);
  EXPECT_FALSE(again.cleared_too);
  EXPECT_TRUE(s.case_active);
}

TEST(RuleStateTest, NextTimerReportsPendingAndClearDeadlines) {
  RuleState s;
  EXPECT_EQ(NextTimer(s, 30000, 60000), std::numeric_limits<int64_t>::max());
  Advance(s, T, 0, 1000, 30000, 60000);
  EXPECT_EQ(NextTimer(s, 30000, 60000), 31000);
  Advance(s, T, 0, 31000, 30000, 60000);  // fired
  EXPECT_EQ(NextTimer(s, 30000, 60000), std::numeric_limits<int64_t>::max());
  Advance(s, F, T, 40000, 30000, 60000);
  EXPECT_EQ(NextTimer(s, 30000, 60000), 100000);
}

}  // namespace
}  // namespace precall::rules
