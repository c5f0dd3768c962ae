// Tests of ParseExpression (rules/parser.h): the tree it builds (printed back
// fully parenthesised), node offsets, and every syntax and semantic error with
// its exact offset.
#include "rules/parser.h"

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rules/lexer.h"

namespace precall::rules {
namespace {

using ::testing::ElementsAre;
using ::testing::FieldsAre;
using ::testing::IsEmpty;

std::string_view FuncName(Func func) {
  switch (func) {
    case Func::kAvg: return "avg";
    case Func::kMin: return "min";
    case Func::kMax: return "max";
    case Func::kSum: return "sum";
    case Func::kCount: return "count";
    case Func::kStddev: return "stddev";
    case Func::kDelta: return "delta";
    case Func::kRate: return "rate";
    case Func::kDtc: return "dtc";
    case Func::kSilent: return "silent";
  }
  return "?";
}

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kNeg: return "-";
    case Op::kNot: return "not ";
    case Op::kOr: return "or";
    case Op::kAnd: return "and";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kEq: return "==";
    case Op::kNe: return "!=";
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
  }
  return "?";
}

// Canonical form: every unary and binary node in parentheses, windows and
// silent() durations in milliseconds. Recursive: test trees are small.
std::string Print(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kNumber: {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, "%g", e.number);
      return buffer;
    }
    case Expr::Kind::kBool: return e.boolean ? "true" : "false";
    case Expr::Kind::kMetric: return e.metric;
    case Expr::Kind::kCall:
      if (e.func == Func::kDtc) {
        return "dtc(\"" + e.code + (e.code_prefix ? "*" : "") + "\")";
      }
      if (e.func == Func::kSilent) return "silent(" + std::to_string(e.duration_ms) + "ms)";
      return std::string(FuncName(e.func)) + "(" + e.metric + ", " + std::to_string(e.duration_ms) +
             "ms)";
    case Expr::Kind::kUnary: return "(" + std::string(OpName(e.op)) + Print(*e.rhs) + ")";
    case Expr::Kind::kBinary:
      return "(" + Print(*e.lhs) + " " + std::string(OpName(e.op)) + " " + Print(*e.rhs) + ")";
  }
  return "?";
}

// The canonical form of `text`, or its errors as "offset: message; ...".
std::string Canonical(std::string_view text) {
  ParseResult result = ParseExpression(text);
  if (result.errors.empty()) {
    if (result.expr == nullptr) return "<null expr without errors>";
    return Print(*result.expr);
  }
  std::string out = result.expr == nullptr ? "" : "<expr with errors> ";
  for (const ExprError& error : result.errors) {
    out += std::to_string(error.offset) + ": " + error.message + "; ";
  }
  return out;
}

// The errors of `text`, which must not parse.
std::vector<ExprError> Errors(std::string_view text) {
  ParseResult result = ParseExpression(text);
  EXPECT_EQ(result.expr, nullptr) << text;
  EXPECT_FALSE(result.errors.empty()) << text;
  return std::move(result.errors);
}

// The one error of `text`.
ExprError Error(std::string_view text) {
  std::vector<ExprError> errors = Errors(text);
  EXPECT_EQ(errors.size(), 1u) << Canonical(text);
  if (errors.empty()) return {-1, "<no error>"};
  return errors.front();
}

auto IsError(int offset, std::string_view message) {
  return FieldsAre(offset, std::string(message));
}

TEST(ParserTest, Atoms) {
  EXPECT_EQ(Canonical("42"), "42");
  EXPECT_EQ(Canonical("1.5"), "1.5");
  EXPECT_EQ(Canonical(".5"), "0.5");
  EXPECT_EQ(Canonical("1e3"), "1000");
  EXPECT_EQ(Canonical("true"), "true");
  EXPECT_EQ(Canonical("false"), "false");
  EXPECT_EQ(Canonical("door_open"), "door_open");
  EXPECT_EQ(Canonical("engine.coolant_temp_c"), "engine.coolant_temp_c");
  EXPECT_EQ(Canonical("(x)"), "x");
  EXPECT_EQ(Canonical("((((x))))"), "x");
}

TEST(ParserTest, PrecedenceAndAssociativity) {
  struct Case {
    std::string_view text;
    std::string_view canonical;
  };
  for (const Case& c : std::vector<Case>{
           {"a or b and c", "(a or (b and c))"},
           {"a and b or c", "((a and b) or c)"},
           {"a or b or c", "((a or b) or c)"},
           {"a and b and c", "((a and b) and c)"},
           {"not a and b", "((not a) and b)"},
           {"not a or not b", "((not a) or (not b))"},
           {"not a > 1", "(not (a > 1))"},
           {"not not a", "(not (not a))"},
           {"a > 1 and b < 2", "((a > 1) and (b < 2))"},
           {"a + b * c", "(a + (b * c))"},
           {"a * b + c", "((a * b) + c)"},
           {"a - b - c", "((a - b) - c)"},
           {"a - b + c", "((a - b) + c)"},
           {"a / b / c", "((a / b) / c)"},
           {"a / b * c", "((a / b) * c)"},
           {"a * b + c * d > e - f", "(((a * b) + (c * d)) > (e - f))"},
           {"a + b == c", "((a + b) == c)"},
           {"-a * b", "((-a) * b)"},
           {"a * -b", "(a * (-b))"},
           {"- -a", "(-(-a))"},
           {"--a", "(-(-a))"},
           {"-(a + b)", "(-(a + b))"},
           {"a - -1", "(a - (-1))"},
           {"(a or b) and c", "((a or b) and c)"},
           {"a * (b + c)", "(a * (b + c))"},
           {"not (a and b)", "(not (a and b))"},
           {"a <= b or a >= b or a < b or a > b or a == b or a != b",
            "((((((a <= b) or (a >= b)) or (a < b)) or (a > b)) or (a == b)) or (a != b))"},
           {"1 + 2 * 3 - 4 / 5", "((1 + (2 * 3)) - (4 / 5))"},
           {"(a < b) < c", "((a < b) < c)"},
       }) {
    EXPECT_EQ(Canonical(c.text), c.canonical) << c.text;
  }
}

TEST(ParserTest, Calls) {
  EXPECT_EQ(Canonical("avg(coolant_temp_c, 1m) > 105 and engine_rpm > 800"),
            "((avg(coolant_temp_c, 60000ms) > 105) and (engine_rpm > 800))");
  EXPECT_EQ(Canonical("min(x, 500ms) + max(x, 30s) + sum(x, 2h) + count(x, 1d)"),
            "(((min(x, 500ms) + max(x, 30000ms)) + sum(x, 7200000ms)) + count(x, 86400000ms))");
  EXPECT_EQ(Canonical("stddev(a.b, 5m) / delta(c, 1m) - rate(d, 10s)"),
            "((stddev(a.b, 300000ms) / delta(c, 60000ms)) - rate(d, 10000ms))");
  EXPECT_EQ(Canonical(R"(dtc("SPN110.FMI0"))"), R"(dtc("SPN110.FMI0"))");
  EXPECT_EQ(Canonical("silent(10m)"), "silent(600000ms)");
  // Whitespace between the name and '(' and around arguments, line breaks.
  EXPECT_EQ(Canonical("avg (x ,5m)\n  > 3"), "(avg(x, 300000ms) > 3)");
  // A parenthesised metric is still a metric.
  EXPECT_EQ(Canonical("avg((x), 5m)"), "avg(x, 300000ms)");
  // Function names are only functions when called.
  EXPECT_EQ(Canonical("count > 3 and avg"), "((count > 3) and avg)");
}

TEST(ParserTest, CallFields) {
  ParseResult result = ParseExpression(R"(dtc("SPN110.*"))");
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(result.expr->kind, Expr::Kind::kCall);
  EXPECT_EQ(result.expr->func, Func::kDtc);
  EXPECT_EQ(result.expr->code, "SPN110.");
  EXPECT_TRUE(result.expr->code_prefix);

  result = ParseExpression(R"(dtc("*"))");  // the empty prefix: any code
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(result.expr->code, "");
  EXPECT_TRUE(result.expr->code_prefix);

  result = ParseExpression(R"(dtc("P0217"))");
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(result.expr->code, "P0217");
  EXPECT_FALSE(result.expr->code_prefix);

  result = ParseExpression("rate(odometer_km, 15m)");
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(result.expr->func, Func::kRate);
  EXPECT_EQ(result.expr->metric, "odometer_km");
  EXPECT_EQ(result.expr->duration_ms, 15 * 60 * 1000);

  result = ParseExpression("silent(90s)");
  ASSERT_TRUE(result.errors.empty());
  EXPECT_EQ(result.expr->func, Func::kSilent);
  EXPECT_EQ(result.expr->duration_ms, 90 * 1000);
}

TEST(ParserTest, FaultCodeCharacters) {
  const std::string longest(64, 'A');
  EXPECT_EQ(Canonical("dtc(\"" + longest + "\")"), "dtc(\"" + longest + "\")");
  EXPECT_EQ(Canonical("dtc(\"" + longest + "*\")"), "dtc(\"" + longest + "*\")");
  EXPECT_EQ(Canonical(R"(dtc("a-Z_0.9:/+"))"), R"(dtc("a-Z_0.9:/+"))");
}

TEST(ParserTest, OneValueTypeSoLogicTakesNumbers) {
  EXPECT_EQ(Canonical("door_open"), "door_open");
  EXPECT_EQ(Canonical("door_open and x > 3"), "(door_open and (x > 3))");
  EXPECT_EQ(Canonical("not door_open or 1"), "((not door_open) or 1)");
  EXPECT_EQ(Canonical("true + 1 > false"), "((true + 1) > false)");
  EXPECT_EQ(Canonical("-true"), "(-true)");
  EXPECT_EQ(Canonical(R"(dtc("A") + silent(1m) * 2)"), R"((dtc("A") + (silent(60000ms) * 2)))");
}

TEST(ParserTest, EveryNodeHasTheOffsetOfItsFirstCharacter) {
  //                                    0         1         2         3
  //                                    0123456789012345678901234567890123
  ParseResult result = ParseExpression("(a + b) * -c > avg(x, 1m) or not d");
  ASSERT_TRUE(result.errors.empty());
  const Expr& orr = *result.expr;  // ((((a + b) * (-c)) > avg) or (not d))
  EXPECT_EQ(orr.op, Op::kOr);
  EXPECT_EQ(orr.offset, 0);
  const Expr& gt = *orr.lhs;
  EXPECT_EQ(gt.op, Op::kGt);
  EXPECT_EQ(gt.offset, 0);
  const Expr& mul = *gt.lhs;
  EXPECT_EQ(mul.op, Op::kMul);
  EXPECT_EQ(mul.offset, 0);  // its text starts with the '('
  const Expr& add = *mul.lhs;
  EXPECT_EQ(add.op, Op::kAdd);
  EXPECT_EQ(add.offset, 1);
  EXPECT_EQ(add.lhs->offset, 1);
  EXPECT_EQ(add.rhs->offset, 5);
  const Expr& neg = *mul.rhs;
  EXPECT_EQ(neg.op, Op::kNeg);
  EXPECT_EQ(neg.offset, 10);
  EXPECT_EQ(neg.rhs->offset, 11);
  EXPECT_EQ(gt.rhs->kind, Expr::Kind::kCall);
  EXPECT_EQ(gt.rhs->offset, 15);
  const Expr& nott = *orr.rhs;
  EXPECT_EQ(nott.op, Op::kNot);
  EXPECT_EQ(nott.offset, 29);
  EXPECT_EQ(nott.rhs->offset, 33);
}

TEST(ParserTest, SyntaxErrors) {
  struct Case {
    std::string_view text;
    int offset;
    std::string_view message;
  };
  for (const Case& c : std::vector<Case>{
           {"", 0, "empty expression"},
           {"  \n ", 0, "empty expression"},
           {"x >", 3, "unexpected end of expression"},
           {"x > 3 and", 9, "unexpected end of expression"},
           {"-", 1, "unexpected end of expression"},
           {"not", 3, "unexpected end of expression"},
           {"x > 3 y", 6, "expected an operator or end of expression but found 'y'"},
           {"avg(x, 1m) 3", 11, "expected an operator or end of expression but found '3'"},
           {"true(1)", 4, "expected an operator or end of expression but found '('"},
           {"x > 3)", 5, "unmatched ')'"},
           {"(x > 3", 6, "expected ')' but found end of expression"},
           {"(x > 3 y)", 7, "expected ')' but found 'y'"},
           {"((x > 3) and y", 14, "expected ')' but found end of expression"},
           {"()", 1, "expected a value but found ')'"},
           {"x > > 3", 4, "expected a value but found '>'"},
           {"+x", 0, "expected a value but found '+'"},
           {"x > and", 4, "expected a value but found 'and'"},
           {"x or or y", 5, "expected a value but found 'or'"},
           {"a < b < c", 6,
            "comparisons cannot be chained; combine them with 'and' (a < b and b < c)"},
           {"a == b != c", 7,
            "comparisons cannot be chained; combine them with 'and' (a < b and b < c)"},
           {"x = 3", 2, "unexpected '=' (use '==' to compare)"},
           {"(x = 3)", 3, "unexpected '=' (use '==' to compare)"},
           {"x && y", 2, "unexpected '&' (use 'and')"},
           {"!x", 0, "unexpected '!' (use 'not' or '!=')"},
           {"x > 1 # note", 6, "unexpected character '#'"},
           {"x > \xC3\xA9t\xC3\xA9", 4, "unexpected byte 0xC3"},
           {R"(dtc("abc)", 4, "unterminated string"},
           {"avg(x, 5m", 9, "expected ')' but found end of expression"},
           {"avg(x", 5, "expected ',' or ')' but found end of expression"},
           {"avg(x 5m)", 6, "expected ',' or ')' but found '5m'"},
           {"avg(x, 5m and y)", 10, "expected ')' but found 'and'"},
           {"silent(10m and x > 3", 11, "expected ')' but found 'and'"},
           {"silent(5m + 1)", 10, "expected ')' but found '+'"},
           {R"(dtc("A" or x)", 8, "expected ')' but found 'or'"},
           {R"(foo("A" or x)", 8, "expected ',' or ')' but found 'or'"},
           {"avg(, 5m)", 4, "expected a value but found ','"},
           {"avg(x,)", 6, "expected a value but found ')'"},
           {"avg(x,, 5m)", 6, "expected a value but found ','"},
           {"f(", 2, "unexpected end of expression"},
       }) {
    const ExprError error = Error(c.text);
    EXPECT_EQ(error.offset, c.offset) << c.text;
    EXPECT_EQ(error.message, c.message) << c.text;
  }
}

TEST(ParserTest, OnlyTheFirstSyntaxErrorIsReported) {
  EXPECT_THAT(Errors("x > ) and y < or (("),
              ElementsAre(IsError(4, "expected a value but found ')'")));
}

TEST(ParserTest, SemanticErrorsBeforeASyntaxErrorAreKept) {
  EXPECT_THAT(Errors("avgg(x, 1m) > 1 and"),
              ElementsAre(IsError(0, "unknown function 'avgg'"),
                          IsError(19, "unexpected end of expression")));
}

TEST(ParserTest, UnknownFunction) {
  EXPECT_THAT(Error("avgg(x, 5m) > 1"), IsError(0, "unknown function 'avgg'"));
  EXPECT_THAT(Error("x > 1 and Avg(x, 5m) > 1"), IsError(10, "unknown function 'Avg'"));
  EXPECT_THAT(Error("abs(x)"), IsError(0, "unknown function 'abs'"));
  // Its arguments are still checked for what is wrong whatever the function.
  EXPECT_THAT(Errors("foo(x, 5x)"),
              ElementsAre(IsError(0, "unknown function 'foo'"),
                          IsError(7,
                                  "invalid duration '5x' (expected an integer followed by "
                                  "ms, s, m, h or d)")));
}

TEST(ParserTest, WindowFunctionArguments) {
  EXPECT_THAT(Error("avg(x) > 1"), IsError(0, "avg() needs a window, e.g. avg(x, 5m)"));
  EXPECT_THAT(Error("x > 1 or max(coolant_temp_c) > 1"),
              IsError(9, "max() needs a window, e.g. max(coolant_temp_c, 5m)"));
  EXPECT_THAT(Error("avg() > 1"), IsError(0, "avg() needs a metric and a window, e.g. avg(x, 5m)"));
  EXPECT_THAT(Error("count(x, 1m, 2m)"),
              IsError(13, "count() takes 2 arguments (a metric and a window) but got 3"));
  EXPECT_THAT(Error("avg(1, 1m)"), IsError(4, "first argument of avg() must be a metric name"));
  EXPECT_THAT(Error("avg(x + 1, 1m)"), IsError(4, "first argument of avg() must be a metric name"));
  EXPECT_THAT(Error("avg((x + 1), 1m)"),
              IsError(4, "first argument of avg() must be a metric name"));
  EXPECT_THAT(Error("avg(true, 1m)"), IsError(4, "first argument of avg() must be a metric name"));
  EXPECT_THAT(Error(R"(avg("x", 1m))"),
              IsError(4, "first argument of avg() must be a metric name"));
  EXPECT_THAT(Error("avg(1m, 1m)"), IsError(4, "first argument of avg() must be a metric name"));
  EXPECT_THAT(Error("rate(x, 5)"), IsError(8, "window of rate() must be a duration, e.g. 5m"));
  EXPECT_THAT(Error("rate(x, y)"), IsError(8, "window of rate() must be a duration, e.g. 5m"));
  // A negative window: one error, at its '-'.
  EXPECT_THAT(Errors("delta(x, -1m)"),
              ElementsAre(IsError(9, "window of delta() must be greater than 0")));
  EXPECT_THAT(Errors("silent(-10m) and avg(x, -1.5m) > 1"),
              ElementsAre(IsError(7, "duration of silent() must be greater than 0"),
                          IsError(25,
                                  "invalid duration '1.5m' (expected an integer followed by "
                                  "ms, s, m, h or d)")));
  // Minus applied to a longer argument expression is still an expression.
  EXPECT_THAT(Errors("avg(x, -1m + 2) > 1"),
              ElementsAre(IsError(7, "window of avg() must be a duration, e.g. 5m"),
                          IsError(8,
                                  "duration '1m' can only be a window, e.g. avg(x, 5m), or "
                                  "the argument of silent()")));
  EXPECT_THAT(Error("avg(x, 0s)"), IsError(7, "window of avg() must be greater than 0"));
  EXPECT_THAT(Error("avg(x, 0ms)"), IsError(7, "window of avg() must be greater than 0"));
  EXPECT_THAT(Error("avg(x, 5x)"),
              IsError(7,
                      "invalid duration '5x' (expected an integer followed by ms, s, m, h "
                      "or d)"));
  EXPECT_THAT(Error("stddev(x, 1.5m)"),
              IsError(10,
                      "invalid duration '1.5m' (expected an integer followed by ms, s, m, "
                      "h or d)"));
  EXPECT_THAT(Error("sum(x, 99999999d)"),
              IsError(7, "duration '99999999d' is too long (at most 100 years)"));
  // Both arguments wrong: both reported.
  EXPECT_THAT(Errors("min(1, 2)"),
              ElementsAre(IsError(4, "first argument of min() must be a metric name"),
                          IsError(7, "window of min() must be a duration, e.g. 5m")));
}

TEST(ParserTest, DtcArguments) {
  constexpr std::string_view kTakesOne =
      "dtc() takes one argument, a fault code in double quotes, e.g. dtc(\"SPN110.FMI0\")";
  constexpr std::string_view kNeedsString =
      "argument of dtc() must be a fault code in double quotes, e.g. dtc(\"SPN110.FMI0\")";
  constexpr std::string_view kCodeRule =
      " (expected 1 to 64 of A-Z a-z 0-9 _ . : / + -, optionally followed by '*' to match a "
      "prefix)";
  EXPECT_THAT(Error("dtc()"), IsError(0, kTakesOne));
  EXPECT_THAT(Error(R"(dtc("A", "B"))"), IsError(9, kTakesOne));
  EXPECT_THAT(Error("dtc(SPN110)"), IsError(4, kNeedsString));
  EXPECT_THAT(Error("dtc(1m)"), IsError(4, kNeedsString));
  EXPECT_THAT(Error(R"(dtc("A B"))"), IsError(4, Concat("invalid fault code \"A B\"", kCodeRule)));
  EXPECT_THAT(Error(R"(dtc(""))"), IsError(4, Concat("invalid fault code \"\"", kCodeRule)));
  EXPECT_THAT(Error(R"(dtc("**"))"), IsError(4, Concat("invalid fault code \"**\"", kCodeRule)));
  EXPECT_THAT(Error(R"(dtc("A*B"))"), IsError(4, Concat("invalid fault code \"A*B\"", kCodeRule)));
  EXPECT_THAT(Error(R"(dtc("A**"))"), IsError(4, Concat("invalid fault code \"A**\"", kCodeRule)));
  const std::string too_long(65, 'A');
  EXPECT_THAT(
      Error("dtc(\"" + too_long + "\")"),
      IsError(4, Concat("invalid fault code \"", std::string(40, 'A'), "...\"", kCodeRule)));
}

TEST(ParserTest, SilentArguments) {
  EXPECT_THAT(Error("silent()"),
              IsError(0, "silent() takes one argument, a duration, e.g. silent(10m)"));
  EXPECT_THAT(Error("silent(1m, 2m)"),
              IsError(11, "silent() takes one argument, a duration, e.g. silent(10m)"));
  EXPECT_THAT(Error("silent(x)"),
              IsError(7, "argument of silent() must be a duration, e.g. silent(10m)"));
  EXPECT_THAT(Error("silent(10)"),
              IsError(7, "argument of silent() must be a duration, e.g. silent(10m)"));
  EXPECT_THAT(Error("silent(0s)"), IsError(7, "duration of silent() must be greater than 0"));
  EXPECT_THAT(Error("silent(10 m)"), IsError(10, "expected ')' but found 'm'"));
}

TEST(ParserTest, LiteralsOutOfPlace) {
  EXPECT_THAT(Error("x > 5m"),
              IsError(4,
                      "duration '5m' can only be a window, e.g. avg(x, 5m), or the argument "
                      "of silent()"));
  EXPECT_THAT(Error("x > 5x"),
              IsError(4,
                      "invalid duration '5x' (expected an integer followed by ms, s, m, h "
                      "or d)"));
  EXPECT_THAT(Error(R"(state == "on")"),
              IsError(9, "string \"on\" can only be the argument of dtc()"));
  // In an argument, but inside a larger expression.
  EXPECT_THAT(Errors("silent(1 + 5m)"),
              ElementsAre(IsError(7,
                                  "argument of silent() must be a duration, e.g. "
                                  "silent(10m)"),
                          IsError(11,
                                  "duration '5m' can only be a window, e.g. avg(x, 5m), or "
                                  "the argument of silent()")));
  EXPECT_THAT(Error("x > 1e999"), IsError(4, "number '1e999' is out of range"));
  EXPECT_THAT(Error("x > 1."), IsError(4, "malformed number '1.'"));
  // A number glued to a keyword: one error that says what is missing.
  EXPECT_THAT(Errors("a>1and b>1"),
              ElementsAre(IsError(2, "a space is missing between '1' and 'and'")));
  EXPECT_THAT(Error("a > 2.5or b"), IsError(4, "a space is missing between '2.5' and 'or'"));
  EXPECT_THAT(Error("a > 1not"), IsError(4, "a space is missing between '1' and 'not'"));
  const std::string long_name(65, 'm');
  EXPECT_THAT(Error("x > 1 and " + long_name + " > 2"),
              IsError(10,
                      "name 'mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm...' is longer than 64 "
                      "characters"));
  EXPECT_EQ(Canonical(std::string(64, 'm')), std::string(64, 'm'));
}

TEST(ParserTest, AllSemanticErrorsAreReportedInTextOrder) {
  EXPECT_THAT(Errors(R"(avgg(x, 1m) > 1 and avg(y) > 2 or silent(0s) or dtc("a b") or z > 5m)"),
              ElementsAre(IsError(0, "unknown function 'avgg'"),
                          IsError(20, "avg() needs a window, e.g. avg(y, 5m)"),
                          IsError(41, "duration of silent() must be greater than 0"),
                          IsError(52,
                                  "invalid fault code \"a b\" (expected 1 to 64 of A-Z a-z "
                                  "0-9 _ . : / + -, optionally followed by '*' to match a "
                                  "prefix)"),
                          IsError(66,
                                  "duration '5m' can only be a window, e.g. avg(x, 5m), or "
                                  "the argument of silent()")));
}

TEST(ParserTest, NestingUpToTheLimit) {
  const std::string parens = std::string(64, '(') + "x" + std::string(64, ')');
  EXPECT_EQ(Canonical(parens), "x");
  std::string nots;
  for (int i = 0; i < 64; ++i) nots += "not ";
  EXPECT_TRUE(ParseExpression(nots + "x").errors.empty());
  EXPECT_TRUE(ParseExpression(std::string(64, '-') + "x").errors.empty());
  // A call's parentheses count as one level.
  EXPECT_TRUE(
      ParseExpression(std::string(63, '(') + "avg(x, 1m)" + std::string(63, ')')).errors.empty());
}

TEST(ParserTest, NestingBeyondTheLimitIsAnError) {
  constexpr std::string_view kTooDeep =
      "expression nested too deeply (more than 64 levels of parentheses, calls, 'not' or '-')";
  EXPECT_THAT(Error(std::string(65, '(') + "x" + std::string(65, ')')), IsError(64, kTooDeep));
  std::string nots;
  for (int i = 0; i < 65; ++i) nots += "not ";
  EXPECT_THAT(Error(nots + "x"), IsError(256, kTooDeep));
  EXPECT_THAT(Error(std::string(65, '-') + "x"), IsError(64, kTooDeep));
  EXPECT_THAT(Error(std::string(64, '(') + "avg(x, 1m)" + std::string(64, ')')),
              IsError(67, kTooDeep));
}

TEST(ParserTest, HostileNestingDoesNotOverflowTheStack) {
  constexpr std::string_view kTooDeep =
      "expression nested too deeply (more than 64 levels of parentheses, calls, 'not' or '-')";
  EXPECT_THAT(Error(std::string(60000, '(')), IsError(64, kTooDeep));
  EXPECT_THAT(Error(std::string(60000, '-')), IsError(64, kTooDeep));
  std::string calls;
  for (int i = 0; i < 10000; ++i) calls += "f(";
  EXPECT_THAT(Error(calls), IsError(129, kTooDeep));
}

TEST(ParserTest, LongChainsParseAndTreeHeightIsCapped) {
  // x or x or ... : each 'or' adds a level to the (left-leaning) tree, and
  // evaluating it holds two values at most, however long it is.
  std::string chain = "x";
  for (int i = 0; i < 1023; ++i) chain += " or x";
  EXPECT_TRUE(ParseExpression(chain).errors.empty());
  chain += " or x";  // the 1,024th 'or', at offset 2 + 5 * 1023
  EXPECT_THAT(Error(chain),
              IsError(5117, "expression too complex (more than 1024 levels of operators)"));
  std::string hostile = "x";
  for (int i = 0; i < 10000; ++i) hostile += " and x";
  EXPECT_THAT(Errors(hostile),
              ElementsAre(IsError(2 + 6 * 1023,
                                  "expression too complex (more than 1024 levels of "
                                  "operators)")));
}

TEST(ParserTest, ValuesWaitingAtOnceAreCapped) {
  // Each parenthesis level leaves 'a or', 'b and', 'c ==', 'd +' and 'e *'
  // waiting for their right operands: 5 values per level.
  auto nested = [](int levels) {
    std::string text;
    for (int i = 0; i < levels; ++i) text += "a or b and c == d + e * (";
    text += "x";
    text += std::string(static_cast<std::size_t>(levels), ')');
    return text;
  };
  EXPECT_TRUE(ParseExpression(nested(51)).errors.empty());  // 255 waiting, 256 held
  const std::string too_many = nested(52);
  const ParseResult result = ParseExpression(too_many);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].message,
            "expression too complex (more than 256 operands waiting at once)");
}

TEST(ParserTest, ExpressionLengthIsCapped) {
  std::string text = "x";
  while (text.size() <= 65536) text += " or y";
  EXPECT_THAT(Error(text), IsError(0, "expression is longer than 65536 bytes"));
}

}  // namespace
}  // namespace precall::rules
