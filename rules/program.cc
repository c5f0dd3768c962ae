#include "rules/program.h"

#include <cmath>

namespace precall::rules {
namespace {

constexpr double kUnknown = devices::kUnknown;

inline double Bool(bool b) { return b ? 1.0 : 0.0; }

}  // namespace

double Evaluate(const Program& program, devices::DeviceState& device, int64_t now, int64_t clock) {
  double stack[kMaxStackDepth];
  int top = 0;  // number of values on the stack
  for (const Instr& in : program.code) {
    switch (in.op) {
      case OpCode::kConst:
        stack[top++] = in.number;
        break;
      case OpCode::kLatest:
        stack[top++] = device.Latest(in.slot);
        break;
      case OpCode::kWindow:
        stack[top++] = device.Window(in.slot, in.window, in.func, now);
        break;
      case OpCode::kDtc:
        stack[top++] = Bool(device.DtcActive(program.strings[in.slot]));
        break;
      case OpCode::kDtcPrefix:
        stack[top++] = Bool(device.DtcActivePrefix(program.strings[in.slot]));
        break;
      case OpCode::kSilent:
        stack[top++] = device.last_seen() == devices::kNever
                           ? kUnknown
                           : Bool(clock - device.last_seen() >= in.ms);
        break;
      case OpCode::kNeg:
        stack[top - 1] = -stack[top - 1];
        break;
      case OpCode::kNot: {
        double a = stack[top - 1];
        stack[top - 1] = IsKnown(a) ? Bool(a == 0) : kUnknown;
        break;
      }
      default: {
        double b = stack[--top];
        double a = stack[top - 1];
        double r;
        switch (in.op) {
          case OpCode::kAnd:
            if ((IsKnown(a) && a == 0) || (IsKnown(b) && b == 0)) r = 0;
            else r = (IsKnown(a) && IsKnown(b)) ? 1.0 : kUnknown;
            break;
          case OpCode::kOr:
            if (IsTrue(a) || IsTrue(b)) r = 1;
            else r = (IsKnown(a) && IsKnown(b)) ? 0.0 : kUnknown;
            break;
          case OpCode::kLt: r = IsKnown(a) && IsKnown(b) ? Bool(a < b) : kUnknown; break;
          case OpCode::kLe: r = IsKnown(a) && IsKnown(b) ? Bool(a <= b) : kUnknown; break;
          case OpCode::kGt: r = IsKnown(a) && IsKnown(b) ? Bool(a > b) : kUnknown; break;
          case OpCode::kGe: r = IsKnown(a) && IsKnown(b) ? Bool(a >= b) : kUnknown; break;
          case OpCode::kEq: r = IsKnown(a) && IsKnown(b) ? Bool(a == b) : kUnknown; break;
          case OpCode::kNe: r = IsKnown(a) && IsKnown(b) ? Bool(a != b) : kUnknown; break;
          // Overflow is not one of the contract's sources of unknown: it gives
          // ±inf, which compares as it should. (inf - inf is NaN: unknown.)
          case OpCode::kAdd: r = a + b; break;
          case OpCode::kSub: r = a - b; break;
          case OpCode::kMul: r = a * b; break;
          case OpCode::kDiv: r = b == 0 ? kUnknown : a / b; break;
          default: r = kUnknown; break;
        }
        stack[top - 1] = r;
        break;
      }
    }
  }
  return top == 1 ? stack[0] : kUnknown;
}

}  // namespace precall::rules
