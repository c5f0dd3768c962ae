// Program: a rule expression compiled to flat postfix code over plan slots,
// evaluated on a fixed-size stack: no allocation, no exceptions, no strings
// on the hot path.
//
// Values are three-valued (CONTRACT §2): a double, with NaN for "unknown".
// Booleans are 1/0; a value counts as true only when it is known and not 0.
// NaN propagates through arithmetic and comparisons; and/or/not follow Kleene
// logic; division by zero and non-finite results are unknown.
//
// Thread: a Program is immutable after compilation and may be evaluated by
// any number of workers at once; the device state it reads is the caller's.
#ifndef PRECALL_RULES_PROGRAM_H_
#define PRECALL_RULES_PROGRAM_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "devices/device_state.h"
#include "devices/window.h"

namespace precall::rules {

enum class OpCode : unsigned char {
  kConst,       // push number
  kLatest,      // push the latest value of `slot`
  kWindow,      // push `func` over window `window` of `slot`
  kDtc,         // push dtc(strings[text]) (exact)
  kDtcPrefix,   // push dtc(strings[text]*)
  kSilent,      // push silent(ms)
  kNeg, kNot,
  kAnd, kOr,
  kLt, kLe, kGt, kGe, kEq, kNe,
  kAdd, kSub, kMul, kDiv,
};

struct Instr {
  OpCode op = OpCode::kConst;
  devices::WindowFunc func = devices::WindowFunc::kAvg;
  int16_t window = 0;
  uint32_t slot = 0;  // kLatest, kWindow; kDtc*: index into strings
  double number = 0;  // kConst
  int64_t ms = 0;     // kSilent
};

// Evaluation stack bound. Postfix evaluation holds at most one value per
// binary node waiting for its right subtree, plus one; the parser refuses
// trees that would hold more than kMaxPendingValues (parser.h), which
// rule_set.cc checks against this at compile time.
inline constexpr int kMaxStackDepth = 257;

struct Program {
  std::vector<Instr> code;
  std::vector<std::string> strings;  // dtc codes and prefixes
  int max_depth = 0;

  bool empty() const { return code.empty(); }
};

inline bool IsTrue(double v) { return v == v && v != 0; }  // NaN compares unequal to itself
inline bool IsKnown(double v) { return v == v; }

// Evaluates `program` for `device`. `now` is the evaluation's event time
// (windows end at it); `clock` is the gateway clock (silent() measures to it).
double Evaluate(const Program& program, devices::DeviceState& device, int64_t now, int64_t clock);

}  // namespace precall::rules

#endif  // PRECALL_RULES_PROGRAM_H_
