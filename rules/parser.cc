// Recursive-descent parser of rule expressions: see parser.h. One function per
// grammar rule of CONTRACT §2. Recursion happens only through '(', calls, 'not'
// and unary '-', each of which counts one nesting level (at most kMaxNesting),
// and binary chains are loops whose tree height is capped (kMaxTreeHeight), so
// neither the parser nor whoever walks or destroys the tree can overflow the
// stack on hostile input. A chain leans left, so evaluating it holds two values
// however long it is; what evaluation holds at once is capped separately
// (kMaxPendingValues).
#include "rules/parser.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rules/lexer.h"

namespace precall::rules {
namespace {

constexpr int kMaxNesting = 64;
constexpr std::size_t kMaxExpressionLength = 65536;
constexpr std::size_t kMaxCodeLength = 64;

struct FuncInfo {
  std::string_view name;
  Func func;
};

constexpr FuncInfo kFunctions[] = {
    {"avg", Func::kAvg},       {"min", Func::kMin},     {"max", Func::kMax},
    {"sum", Func::kSum},       {"count", Func::kCount}, {"stddev", Func::kStddev},
    {"delta", Func::kDelta},   {"rate", Func::kRate},   {"dtc", Func::kDtc},
    {"silent", Func::kSilent},
};

const FuncInfo* FindFunction(std::string_view name) {
  for (const FuncInfo& info : kFunctions) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

bool IsWindowFunction(Func func) {
  switch (func) {
    case Func::kAvg:
    case Func::kMin:
    case Func::kMax:
    case Func::kSum:
    case Func::kCount:
    case Func::kStddev:
    case Func::kDelta:
    case Func::kRate: return true;
    case Func::kDtc:
    case Func::kSilent: return false;
  }
  return false;
}

bool IsCodeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '/' || c == '+' || c == '-';
}

bool IsValidCode(std::string_view code) {
  return !code.empty() && code.size() <= kMaxCodeLength &&
         std::all_of(code.begin(), code.end(), IsCodeChar);
}

std::optional<Op> ComparisonOp(TokenKind kind) {
  switch (kind) {
    case TokenKind::kLt: return Op::kLt;
    case TokenKind::kLe: return Op::kLe;
    case TokenKind::kGt: return Op::kGt;
    case TokenKind::kGe: return Op::kGe;
    case TokenKind::kEq: return Op::kEq;
    case TokenKind::kNe: return Op::kNe;
    default: return std::nullopt;
  }
}

// A subtree under construction: `start` is where its text begins (an opening
// parenthesis included), `height` its number of levels, `values` how many
// values its postfix evaluation holds at most.
struct Node {
  ExprPtr expr;
  int start = 0;
  int height = 1;
  int values = 1;
};

Node Leaf(Expr::Kind kind, int offset) {
  auto expr = std::make_unique<Expr>();
  expr->kind = kind;
  expr->offset = offset;
  return Node{std::move(expr), offset, 1, 1};
}

// What a call argument turned out to be.
enum class ArgKind : unsigned char {
  kMetric,            // a bare metric name
  kDuration,          // a valid duration literal
  kString,            // a string literal
  kOther,             // any other expression
  kReported,          // a literal whose problem was already reported
  kNegativeDuration,  // '-' and a duration, e.g. avg(x, -1m)
};

struct Arg {
  ArgKind kind = ArgKind::kOther;
  int offset = 0;
  const Token* token = nullptr;  // kDuration, kString
  std::string metric;            // kMetric
};

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  ParseResult Run() {
    ParseResult result;
    if (Peek().kind == TokenKind::kEnd) {
      result.errors.push_back({0, "empty expression"});
      return result;
    }
    std::optional<Node> node = ParseOr();
    if (node.has_value() && !Is(TokenKind::kEnd)) {
      if (Is(TokenKind::kRParen)) {
        Fail(Peek().offset, "unmatched ')'");
      } else {
        Expected("an operator or end of expression");
      }
    }
    result.errors = std::move(semantic_errors_);
    if (syntax_error_.has_value()) result.errors.push_back(std::move(*syntax_error_));
    std::stable_sort(result.errors.begin(), result.errors.end(),
                     [](const ExprError& a, const ExprError& b) { return a.offset < b.offset; });
    if (result.errors.empty() && node.has_value()) result.expr = std::move(node->expr);
    return result;
  }

 private:
  const Token& Peek(std::size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  bool Is(TokenKind kind) const { return Peek().kind == kind; }
  const Token& Take() {
    const Token& token = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }

  // Records the syntax error (only the first one counts) and returns the
  // value every parse function returns on failure.
  std::nullopt_t Fail(int offset, std::string message) {
    if (!syntax_error_.has_value()) syntax_error_ = ExprError{offset, std::move(message)};
    return std::nullopt;
  }
  std::nullopt_t Expected(std::string_view what) {
    const Token& found = Peek();
    if (found.kind == TokenKind::kError) return Fail(found.offset, found.problem);
    return Fail(found.offset, Concat("expected ", what, " but found ", DescribeToken(found)));
  }
  void Report(int offset, std::string message) {
    semantic_errors_.push_back({offset, std::move(message)});
  }
  void ReportProblem(const Token& token) {
    if (!token.problem.empty()) Report(token.offset, token.problem);
  }

  bool Enter(const Token& at) {
    if (++depth_ <= kMaxNesting) return true;
    Fail(at.offset, Concat("expression nested too deeply (more than ", kMaxNesting,
                           " levels of parentheses, calls, 'not' or '-')"));
    return false;
  }
  void Leave() { --depth_; }

  std::optional<Node> Unary(Op op, const Token& op_token, Node operand) {
    if (operand.height + 1 > kMaxTreeHeight) return TooComplex(op_token);
    Node node = Leaf(Expr::Kind::kUnary, op_token.offset);
    node.expr->op = op;
    node.expr->rhs = std::move(operand.expr);
    node.height = operand.height + 1;
    node.values = operand.values;
    return node;
  }

  std::optional<Node> Binary(Op op, const Token& op_token, Node lhs, Node rhs) {
    const int height = std::max(lhs.height, rhs.height) + 1;
    if (height > kMaxTreeHeight) return TooComplex(op_token);
    // The left value waits while the right subtree is evaluated.
    const int values = std::max(lhs.values, rhs.values + 1);
    if (values > kMaxPendingValues) {
      return Fail(op_token.offset, Concat("expression too complex (more than ", kMaxPendingValues,
                                          " operands waiting at once)"));
    }
    Node node = Leaf(Expr::Kind::kBinary, lhs.start);
    node.expr->op = op;
    node.expr->lhs = std::move(lhs.expr);
    node.expr->rhs = std::move(rhs.expr);
    node.height = height;
    node.values = values;
    return node;
  }

  std::nullopt_t TooComplex(const Token& at) {
    return Fail(at.offset, Concat("expression too complex (more than ", kMaxTreeHeight,
                                  " levels of operators)"));
  }

  // or := and ('or' and)*
  std::optional<Node> ParseOr() {
    std::optional<Node> lhs = ParseAnd();
    while (lhs.has_value() && Is(TokenKind::kOr)) {
      const Token& op = Take();
      std::optional<Node> rhs = ParseAnd();
      if (!rhs.has_value()) return std::nullopt;
      lhs = Binary(Op::kOr, op, std::move(*lhs), std::move(*rhs));
    }
    return lhs;
  }

  // and := not ('and' not)*
  std::optional<Node> ParseAnd() {
    std::optional<Node> lhs = ParseNot();
    while (lhs.has_value() && Is(TokenKind::kAnd)) {
      const Token& op = Take();
      std::optional<Node> rhs = ParseNot();
      if (!rhs.has_value()) return std::nullopt;
      lhs = Binary(Op::kAnd, op, std::move(*lhs), std::move(*rhs));
    }
    return lhs;
  }

  // not := 'not' not | cmp
  std::optional<Node> ParseNot() {
    if (!Is(TokenKind::kNot)) return ParseComparison();
    const Token& op = Take();
    if (!Enter(op)) return std::nullopt;
    std::optional<Node> operand = ParseNot();
    if (!operand.has_value()) return std::nullopt;
    Leave();
    return Unary(Op::kNot, op, std::move(*operand));
  }

  // cmp := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
  std::optional<Node> ParseComparison() {
    std::optional<Node> lhs = ParseSum();
    if (!lhs.has_value()) return std::nullopt;
    const std::optional<Op> op = ComparisonOp(Peek().kind);
    if (!op.has_value()) return lhs;
    const Token& op_token = Take();
    std::optional<Node> rhs = ParseSum();
    if (!rhs.has_value()) return std::nullopt;
    if (ComparisonOp(Peek().kind).has_value()) {
      return Fail(Peek().offset,
                  "comparisons cannot be chained; combine them with 'and' (a < b and b < c)");
    }
    return Binary(*op, op_token, std::move(*lhs), std::move(*rhs));
  }

  // sum := prod (('+' | '-') prod)*
  std::optional<Node> ParseSum() {
    std::optional<Node> lhs = ParseProduct();
    while (lhs.has_value() && (Is(TokenKind::kPlus) || Is(TokenKind::kMinus))) {
      const Token& op = Take();
      std::optional<Node> rhs = ParseProduct();
      if (!rhs.has_value()) return std::nullopt;
      lhs = Binary(op.kind == TokenKind::kPlus ? Op::kAdd : Op::kSub, op, std::move(*lhs),
                   std::move(*rhs));
    }
    return lhs;
  }

  // prod := unary (('*' | '/') unary)*
  std::optional<Node> ParseProduct() {
    std::optional<Node> lhs = ParseUnary();
    while (lhs.has_value() && (Is(TokenKind::kStar) || Is(TokenKind::kSlash))) {
      const Token& op = Take();
      std::optional<Node> rhs = ParseUnary();
      if (!rhs.has_value()) return std::nullopt;
      lhs = Binary(op.kind == TokenKind::kStar ? Op::kMul : Op::kDiv, op, std::move(*lhs),
                   std::move(*rhs));
    }
    return lhs;
  }

  // unary := '-' unary | primary
  std::optional<Node> ParseUnary() {
    if (!Is(TokenKind::kMinus)) return ParsePrimary();
    const Token& op = Take();
    if (!Enter(op)) return std::nullopt;
    std::optional<Node> operand = ParseUnary();
    if (!operand.has_value()) return std::nullopt;
    Leave();
    return Unary(Op::kNeg, op, std::move(*operand));
  }

  // primary := NUMBER | METRIC | 'true' | 'false' | call | '(' expr ')'
  std::optional<Node> ParsePrimary() {
    const Token& token = Peek();
    switch (token.kind) {
      case TokenKind::kNumber: {
        Take();
        ReportProblem(token);
        Node node = Leaf(Expr::Kind::kNumber, token.offset);
        node.expr->number = token.number;
        return node;
      }
      case TokenKind::kTrue:
      case TokenKind::kFalse: {
        Take();
        Node node = Leaf(Expr::Kind::kBool, token.offset);
        node.expr->boolean = token.kind == TokenKind::kTrue;
        return node;
      }
      case TokenKind::kIdent: {
        if (Peek(1).kind == TokenKind::kLParen) return ParseCall();
        Take();
        ReportProblem(token);
        Node node = Leaf(Expr::Kind::kMetric, token.offset);
        node.expr->metric = std::string(token.text);
        return node;
      }
      case TokenKind::kLParen: {
        Take();
        if (!Enter(token)) return std::nullopt;
        std::optional<Node> inner = ParseOr();
        if (!inner.has_value()) return std::nullopt;
        if (!Is(TokenKind::kRParen)) return Expected("')'");
        Take();
        Leave();
        inner->start = token.offset;
        return inner;
      }
      case TokenKind::kDuration:
        Take();
        if (token.problem.empty()) {
          Report(token.offset, Concat("duration ", DescribeToken(token),
                                      " can only be a window, e.g. avg(x, 5m), or the "
                                      "argument of silent()"));
        } else {
          ReportProblem(token);
        }
        return Leaf(Expr::Kind::kNumber, token.offset);
      case TokenKind::kString:
        Take();
        Report(token.offset,
               Concat("string ", DescribeToken(token), " can only be the argument of dtc()"));
        return Leaf(Expr::Kind::kNumber, token.offset);
      case TokenKind::kEnd: return Fail(token.offset, "unexpected end of expression");
      case TokenKind::kError: return Fail(token.offset, token.problem);
      default:
        return Fail(token.offset, Concat("expected a value but found ", DescribeToken(token)));
    }
  }

  // call := NAME '(' [arg (',' arg)*] ')'; the arguments are checked once the
  // call is complete.
  std::optional<Node> ParseCall() {
    const Token& name = Take();
    const Token& open = Take();
    if (!Enter(open)) return std::nullopt;
    // Once a known function has all its arguments, only ')' makes sense next.
    const FuncInfo* info = FindFunction(name.text);
    const std::size_t arity = info == nullptr ? SIZE_MAX : IsWindowFunction(info->func) ? 2 : 1;
    std::vector<Arg> args;
    if (Is(TokenKind::kRParen)) {
      Take();
    } else {
      while (true) {
        std::optional<Arg> arg = ParseArg();
        if (!arg.has_value()) return std::nullopt;
        args.push_back(std::move(*arg));
        if (Is(TokenKind::kComma)) {
          Take();
        } else if (Is(TokenKind::kRParen)) {
          Take();
          break;
        } else {
          return Expected(args.size() >= arity ? "')'" : "',' or ')'");
        }
      }
    }
    Leave();
    return CheckCall(name, args);
  }

  // A duration or string literal is an argument of its own kind (never the
  // start of an expression: neither is a value); anything else is an
  // expression, a bare metric name being the interesting case.
  std::optional<Arg> ParseArg() {
    const Token& token = Peek();
    if (token.kind == TokenKind::kDuration || token.kind == TokenKind::kString) {
      Take();
      Arg arg;
      arg.offset = token.offset;
      arg.token = &token;
      if (!token.problem.empty()) {
        ReportProblem(token);
        arg.kind = ArgKind::kReported;
      } else {
        arg.kind = token.kind == TokenKind::kDuration ? ArgKind::kDuration : ArgKind::kString;
      }
      return arg;
    }
    // '-5m' alone is a negative duration, not minus a misplaced duration.
    if (token.kind == TokenKind::kMinus && Peek(1).kind == TokenKind::kDuration &&
        (Peek(2).kind == TokenKind::kComma || Peek(2).kind == TokenKind::kRParen)) {
      Take();
      const Token& duration = Take();
      Arg arg;
      arg.offset = token.offset;
      arg.token = &duration;
      if (duration.problem.empty()) {
        arg.kind = ArgKind::kNegativeDuration;
      } else {
        ReportProblem(duration);
        arg.kind = ArgKind::kReported;
      }
      return arg;
    }
    std::optional<Node> node = ParseOr();
    if (!node.has_value()) return std::nullopt;
    Arg arg;
    arg.offset = node->start;
    if (node->expr->kind == Expr::Kind::kMetric) {
      arg.kind = ArgKind::kMetric;
      arg.metric = std::move(node->expr->metric);
    }
    return arg;
  }

  Node CheckCall(const Token& name, const std::vector<Arg>& args) {
    Node node = Leaf(Expr::Kind::kCall, name.offset);
    Expr& call = *node.expr;
    const FuncInfo* info = FindFunction(name.text);
    if (info == nullptr) {
      Report(name.offset, Concat("unknown function ", DescribeToken(name)));
      return node;
    }
    call.func = info->func;
    if (IsWindowFunction(info->func)) {
      CheckWindowCall(info->name, name, args, call);
    } else if (info->func == Func::kDtc) {
      CheckDtcCall(name, args, call);
    } else {
      CheckSilentCall(name, args, call);
    }
    return node;
  }

  void CheckWindowCall(std::string_view f, const Token& name, const std::vector<Arg>& args,
                       Expr& call) {
    if (args.empty()) {
      Report(name.offset, Concat(f, "() needs a metric and a window, e.g. ", f, "(x, 5m)"));
      return;
    }
    const Arg& metric = args[0];
    if (metric.kind == ArgKind::kMetric) {
      call.metric = metric.metric;
    } else if (metric.kind != ArgKind::kReported) {
      Report(metric.offset, Concat("first argument of ", f, "() must be a metric name"));
    }
    if (args.size() == 1) {
      const bool short_name =
          metric.kind == ArgKind::kMetric && metric.metric.size() <= std::size_t{kMaxNameLength};
      Report(name.offset, Concat(f, "() needs a window, e.g. ", f, "(",
                                 short_name ? metric.metric : "x", ", 5m)"));
      return;
    }
    const Arg& window = args[1];
    if (window.kind == ArgKind::kDuration && window.token->duration_ms > 0) {
      call.duration_ms = window.token->duration_ms;
    } else if (window.kind == ArgKind::kDuration || window.kind == ArgKind::kNegativeDuration) {
      Report(window.offset, Concat("window of ", f, "() must be greater than 0"));
    } else if (window.kind != ArgKind::kReported) {
      Report(window.offset, Concat("window of ", f, "() must be a duration, e.g. 5m"));
    }
    if (args.size() > 2) {
      Report(args[2].offset,
             Concat(f, "() takes 2 arguments (a metric and a window) but got ", args.size()));
    }
  }

  void CheckDtcCall(const Token& name, const std::vector<Arg>& args, Expr& call) {
    if (args.size() != 1) {
      Report(args.empty() ? name.offset : args[1].offset,
             "dtc() takes one argument, a fault code in double quotes, e.g. dtc(\"SPN110.FMI0\")");
    }
    if (args.empty()) return;
    const Arg& arg = args[0];
    if (arg.kind == ArgKind::kString) {
      std::string_view code = arg.token->value;
      const bool prefix = !code.empty() && code.back() == '*';
      if (prefix) code.remove_suffix(1);
      // "*" alone is the empty prefix: any code active.
      if (IsValidCode(code) || (prefix && code.empty())) {
        call.code = std::string(code);
        call.code_prefix = prefix;
      } else {
        Report(arg.offset, Concat("invalid fault code ", DescribeToken(*arg.token),
                                  " (expected 1 to 64 of A-Z a-z 0-9 _ . : / + -, "
                                  "optionally followed by '*' to match a prefix)"));
      }
    } else if (arg.kind != ArgKind::kReported) {
      Report(arg.offset,
             "argument of dtc() must be a fault code in double quotes, e.g. dtc(\"SPN110.FMI0\")");
    }
  }

  void CheckSilentCall(const Token& name, const std::vector<Arg>& args, Expr& call) {
    if (args.size() != 1) {
      Report(args.empty() ? name.offset : args[1].offset,
             "silent() takes one argument, a duration, e.g. silent(10m)");
    }
    if (args.empty()) return;
    const Arg& arg = args[0];
    if (arg.kind == ArgKind::kDuration && arg.token->duration_ms > 0) {
      call.duration_ms = arg.token->duration_ms;
    } else if (arg.kind == ArgKind::kDuration || arg.kind == ArgKind::kNegativeDuration) {
      Report(arg.offset, "duration of silent() must be greater than 0");
    } else if (arg.kind != ArgKind::kReported) {
      Report(arg.offset, "argument of silent() must be a duration, e.g. silent(10m)");
    }
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::optional<ExprError> syntax_error_;
  std::vector<ExprError> semantic_errors_;
};

}  // namespace

ParseResult ParseExpression(std::string_view text) {
  if (text.size() > kMaxExpressionLength) {
    ParseResult result;
    result.errors.push_back(
        {0, Concat("expression is longer than ", kMaxExpressionLength, " bytes")});
    return result;
  }
  return Parser(Lex(text)).Run();
}

}  // namespace precall::rules
