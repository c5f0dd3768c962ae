// The per-(device, rule) state machine of CONTRACT §2 "When rules run":
// pending periods (`for`), triggers, and clearing (`clear`, `clear_for`).
// It turns one evaluation's values into at most one decision: Fired (a
// trigger: the case book opens, counts an occurrence or reopens; an
// occurrence may also clear) or Cleared (the case book resolves the active
// case, if any).
//
// Thread: owned by the worker that owns the device. Pure, no allocation.
#ifndef PRECALL_RULES_RULE_STATE_H_
#define PRECALL_RULES_RULE_STATE_H_

#include <cstdint>

#include "devices/device_state.h"

namespace precall::rules {

struct RuleState {
  int64_t pending_since = devices::kNever;  // t0 of the current true streak
  int64_t clear_since = devices::kNever;    // t1 of the current clear streak
  bool triggered = false;    // fired, and `when` has not been false/unknown since
  bool case_active = false;  // a case of ours is open as far as this rule knows

  // Nothing to remember: an idle state need not be stored.
  bool idle() const { return pending_since == devices::kNever && !triggered && !case_active; }
};

struct Decision {
  enum class Kind : unsigned char { kNone, kFired, kCleared };
  Kind kind = Kind::kNone;
  int64_t fault_started_at = 0;  // kFired: t0
  // kFired as an occurrence of the active case, at the evaluation that also
  // completed its clear streak: the case counts the occurrence, then
  // resolves (only the opening evaluation is exempt from clearing).
  bool cleared_too = false;
};

// One evaluation at event time `t`: `when` and, if the rule has a case
// active or `when` is true, `clear` (pass the value of not(when) when the
// rule has no clear). `clear` is only read in those two cases: an evaluation
// that fires does not clear, but `clear` true there starts the streak.
Decision Advance(RuleState& state, double when, double clear, int64_t t, int64_t for_ms,
                 int64_t clear_for_ms);

// The earliest event time after which another evaluation with unchanged
// inputs could decide something (a pending `for` or `clear_for` running out),
// or INT64_MAX.
int64_t NextTimer(const RuleState& state, int64_t for_ms, int64_t clear_for_ms);

}  // namespace precall::rules

#endif  // PRECALL_RULES_RULE_STATE_H_
