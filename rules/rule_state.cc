#include "rules/rule_state.h"

#include <algorithm>
#include <limits>

#include "rules/program.h"

namespace precall::rules {

namespace {

// One evaluation of an active case's clear streak: `clear` true starts or
// continues it, anything else ends it. True when the streak has lasted
// clear_for: the case is then no longer active.
bool ClearStep(RuleState& state, double clear, int64_t t, int64_t clear_for_ms) {
  if (!IsTrue(clear)) {
    state.clear_since = devices::kNever;
    return false;
  }
  if (state.clear_since == devices::kNever) state.clear_since = t;
  if (t - state.clear_since < clear_for_ms) return false;
  state.case_active = false;
  state.clear_since = devices::kNever;
  return true;
}

}  // namespace

Decision Advance(RuleState& state, double when, double clear, int64_t t, int64_t for_ms,
                 int64_t clear_for_ms) {
  if (IsTrue(when)) {
    if (!state.triggered) {
      if (state.pending_since == devices::kNever) state.pending_since = t;
      if (t - state.pending_since >= for_ms) {
        state.triggered = true;
        Decision fired{Decision::Kind::kFired, state.pending_since};
        if (state.case_active) {
          // An occurrence: one more evaluation of the clear streak, which
          // it may complete (CONTRACT §2 exempts only the opening one).
          fired.cleared_too = ClearStep(state, clear, t, clear_for_ms);
          return fired;
        }
        // The evaluation that opens (or reopens) a case does not also clear
        // it, but it is one of the evaluations a clear streak is made of:
        // `clear` true here starts one.
        state.clear_since = IsTrue(clear) ? t : devices::kNever;
        state.case_active = true;
        return fired;
      }
    }
  } else {
    // False or unknown ends the pending period and the trigger.
    state.pending_since = devices::kNever;
    state.triggered = false;
  }
  if (state.case_active && ClearStep(state, clear, t, clear_for_ms)) {
    return Decision{Decision::Kind::kCleared, 0};
  }
  return Decision{};
}

int64_t NextTimer(const RuleState& state, int64_t for_ms, int64_t clear_for_ms) {
  int64_t next = std::numeric_limits<int64_t>::max();
  if (!state.triggered && state.pending_since != devices::kNever) {
    next = std::min(next, state.pending_since + for_ms);
  }
  if (state.case_active && state.clear_since != devices::kNever) {
    next = std::min(next, state.clear_since + clear_for_ms);
  }
  return next;
}

}  // namespace precall::rules
