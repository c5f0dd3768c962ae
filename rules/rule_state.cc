#include "rules/rule_state.h"

#include <algorithm>
#include <limits>

#include "rules/program.h"

namespace precall::rules {

Decision Advance(RuleState& state, double when, double clear, int64_t t, int64_t for_ms,
                 int64_t clear_for_ms) {
  if (IsTrue(when)) {
    if (!state.triggered) {
      if (state.pending_since == devices::kNever) state.pending_since = t;
      if (t - state.pending_since >= for_ms) {
        state.triggered = true;
        // The evaluation that opens a case (or counts an occurrence) does
        // not also clear it, but it is one of the evaluations a clear
        // streak is made of: `clear` true here starts or continues one.
        if (!state.case_active || !IsTrue(clear)) state.clear_since = devices::kNever;
        if (IsTrue(clear) && state.clear_since == devices::kNever) state.clear_since = t;
        state.case_active = true;
        return Decision{Decision::Kind::kFired, state.pending_since};
      }
    }
  } else {
    // False or unknown ends the pending period and the trigger.
    state.pending_since = devices::kNever;
    state.triggered = false;
  }
  if (state.case_active) {
    if (IsTrue(clear)) {
      if (state.clear_since == devices::kNever) state.clear_since = t;
      if (t - state.clear_since >= clear_for_ms) {
        state.case_active = false;
        state.clear_since = devices::kNever;
        return Decision{Decision::Kind::kCleared, 0};
      }
    } else {
      state.clear_since = devices::kNever;
    }
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
