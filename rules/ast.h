// The syntax tree of a rule expression (CONTRACT §2 "Expressions"), as the
// parser produces it and the compiler consumes it. Owned by unique_ptr; built
// once at load time, never on the hot path.
#ifndef PRECALL_RULES_AST_H_
#define PRECALL_RULES_AST_H_

#include <cstdint>
#include <memory>
#include <string>

namespace precall::rules {

enum class Func : unsigned char {
  kAvg, kMin, kMax, kSum, kCount, kStddev,  // (metric, window)
  kDelta, kRate,                            // (metric, window)
  kDtc,                                     // ("CODE") or ("PREFIX*")
  kSilent,                                  // (duration)
};

enum class Op : unsigned char {
  kNeg, kNot,                                  // unary: rhs only
  kOr, kAnd,                                   // Kleene logic
  kLt, kLe, kGt, kGe, kEq, kNe,                // comparisons
  kAdd, kSub, kMul, kDiv,                      // arithmetic
};

struct Expr {
  enum class Kind : unsigned char { kNumber, kBool, kMetric, kCall, kUnary, kBinary };

  Kind kind = Kind::kNumber;
  int offset = 0;  // byte offset of the node's first character in the expression text

  double number = 0;     // kNumber
  bool boolean = false;  // kBool
  std::string metric;    // kMetric: the name; kCall of a window function: its metric
  Func func = Func::kAvg;   // kCall
  int64_t duration_ms = 0;  // kCall: the window, or silent()'s duration
  std::string code;         // kCall kDtc: the code without a trailing '*'
  bool code_prefix = false;  // kCall kDtc: the pattern ended in '*'
  Op op = Op::kNeg;          // kUnary, kBinary
  std::unique_ptr<Expr> lhs;  // kBinary
  std::unique_ptr<Expr> rhs;  // kBinary, kUnary
};

using ExprPtr = std::unique_ptr<Expr>;

}  // namespace precall::rules

#endif  // PRECALL_RULES_AST_H_
